with

bookings as (
    select * from {{ ref('int_bookings') }}
),

final as (
    select
        booking_id,
        invitee_uri,
        event_uri,
        event_type_uri,
        event_type_name,
        host_user_uri,
        invitee_email,
        booked_at,
        start_at,
        reschedule_count,
        outcome,
        canceled_at,
        canceler_type,
        cancel_reason,
        cancel_lead_hours,
        utm_source,
        utm_medium,
        utm_campaign,
        utm_content,
        utm_term
    from bookings
)

select * from final
