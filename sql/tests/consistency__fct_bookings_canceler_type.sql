-- canceler_type is set (never null) on canceled bookings and null on all others
-- (its values are declared as accepted_values in marts/schema.yml).
select booking_id, outcome, canceler_type
from {{ ref('fct_bookings') }}
where (outcome = 'canceled' and canceler_type is null)
    or (outcome <> 'canceled' and canceler_type is not null)
