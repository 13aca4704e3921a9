-- The final invitee of a booking belongs to the booking's meeting (that both
-- invitees are loaded is declared as relationships tests in marts/schema.yml).
select bookings.booking_id, bookings.invitee_uri, bookings.event_uri
from {{ ref('fct_bookings') }} as bookings
inner join {{ ref('stg_calendly__invitees') }} as final_invitees
    on final_invitees.invitee_uri = bookings.invitee_uri
where final_invitees.event_uri is distinct from bookings.event_uri
