-- canceler_type is host or invitee on canceled bookings, and null on all others.
select booking_id, outcome, canceler_type
from {{ ref('fct_bookings') }}
where (outcome = 'canceled' and canceler_type not in ('host', 'invitee'))
    or (outcome <> 'canceled' and canceler_type is not null)
