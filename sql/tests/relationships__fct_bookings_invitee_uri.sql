-- booking_id and invitee_uri (first and final invitee) are loaded invitees,
-- and the final invitee belongs to the booking's meeting.
select bookings.booking_id, bookings.invitee_uri
from {{ ref('fct_bookings') }} as bookings
left join {{ ref('stg_calendly__invitees') }} as first_invitees
    on first_invitees.invitee_uri = bookings.booking_id
left join {{ ref('stg_calendly__invitees') }} as final_invitees
    on final_invitees.invitee_uri = bookings.invitee_uri
where first_invitees.invitee_uri is null
    or final_invitees.invitee_uri is null
    or final_invitees.event_uri is distinct from bookings.event_uri
