-- A booking whose event type is loaded carries that event type's name
-- (event types that are not loaded fall back to the meeting's name).
select bookings.booking_id, bookings.event_type_uri, bookings.event_type_name
from {{ ref('fct_bookings') }} as bookings
inner join {{ ref('dim_event_types') }} as event_types
    on event_types.event_type_uri = bookings.event_type_uri
where bookings.event_type_name is distinct from event_types.event_type_name
