-- canceler_type is host or invitee (never null) on canceled bookings, and null on all others.
select booking_id, outcome, canceler_type
from {{ ref('fct_bookings') }}
where (outcome = 'canceled' and coalesce(canceler_type, '') not in ('host', 'invitee'))
    or (outcome <> 'canceled' and canceler_type is not null)
