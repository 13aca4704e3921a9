with

source as (
    select * from {{ source('calendly', 'invitees') }}
),

deleted_events as (
    select uri from {{ source('calendly', 'scheduled_events') }}
    where is_deleted = true
),

not_deleted as (
    select * from source
    where coalesce(is_deleted, false) = false
        and not exists (
            select 1 from deleted_events
            where deleted_events.uri = source.event
        )
),

renamed as (
    select
        cast(uri as varchar) as invitee_uri,
        cast(event as varchar) as event_uri,
        cast(email as varchar) as invitee_email,
        cast(name as varchar) as invitee_name,
        cast(status as varchar) as invitee_status,
        cast(timezone as varchar) as invitee_timezone,
        cast(rescheduled as boolean) as is_rescheduled,
        cast(old_invitee as varchar) as old_invitee_uri,
        cast(new_invitee as varchar) as new_invitee_uri,
        cast(no_show__uri as varchar) as no_show_uri,
        cast(no_show__created_at as timestamptz) as no_show_marked_at,
        cast(cancellation__created_at as timestamptz) as canceled_at,
        cast(cancellation__canceler_type as varchar) as canceler_type,
        cast(cancellation__canceled_by as varchar) as canceled_by,
        cast(cancellation__reason as varchar) as cancel_reason,
        cast(tracking__utm_source as varchar) as utm_source,
        cast(tracking__utm_medium as varchar) as utm_medium,
        cast(tracking__utm_campaign as varchar) as utm_campaign,
        cast(tracking__utm_content as varchar) as utm_content,
        cast(tracking__utm_term as varchar) as utm_term,
        cast(tracking__salesforce_uuid as varchar) as salesforce_uuid,
        cast(routing_form_submission as varchar) as routing_form_submission_uri,
        cast(scheduling_method as varchar) as scheduling_method,
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at
    from not_deleted
),

final as (
    select * from renamed
)

select * from final
