-- outcome is one of completed, no_show, canceled, upcoming.
select booking_id, outcome
from {{ ref('fct_bookings') }}
where outcome is null
    or outcome not in ('completed', 'no_show', 'canceled', 'upcoming')
