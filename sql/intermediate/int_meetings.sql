with

events as (
    select * from {{ ref('stg_calendly__scheduled_events') }}
),

event_types as (
    select * from {{ ref('stg_calendly__event_types') }}
),

event_hosts as (
    select * from {{ ref('int_event_hosts') }}
),

final as (
    select
        events.event_uri,
        events.event_type_uri,
        coalesce(event_types.event_type_name, events.event_name) as event_type_name,
        events.event_name,
        event_hosts.host_user_uri,
        events.event_status,
        events.location_type,
        events.start_at,
        events.end_at,
        events.created_at,
        events.canceled_at,
        events.canceler_type,
        events.cancel_reason,
        events.invitees_total,
        events.invitees_active,
        events.invitees_limit,
        event_types.event_type_uri is not null as has_loaded_event_type
    from events
    left join event_types
        on event_types.event_type_uri = events.event_type_uri
    left join event_hosts
        on event_hosts.event_uri = events.event_uri
)

select * from final
