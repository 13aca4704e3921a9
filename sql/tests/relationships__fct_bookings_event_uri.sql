-- Every booking's meeting is a row of fct_meetings.
select bookings.booking_id, bookings.event_uri
from {{ ref('fct_bookings') }} as bookings
left join {{ ref('fct_meetings') }} as meetings
    on meetings.event_uri = bookings.event_uri
where meetings.event_uri is null
