with

meetings as (
    select * from {{ ref('int_meetings') }}
),

invitees as (
    select * from {{ ref('stg_calendly__invitees') }}
),

invitee_counts as (
    select
        event_uri,
        count(*) as loaded_invitees,
        count(case when invitee_status = 'active' then 1 end) as active_invitees,
        count(case when invitee_status = 'active' and no_show_uri is not null then 1 end)
            as no_show_invitees
    from invitees
    group by event_uri
),

final as (
    select
        meetings.event_uri,
        meetings.event_type_uri,
        meetings.event_type_name,
        meetings.event_name,
        meetings.host_user_uri,
        meetings.event_status,
        meetings.event_status = 'canceled' as is_canceled,
        meetings.location_type,
        meetings.start_at,
        meetings.end_at,
        meetings.created_at,
        meetings.canceled_at,
        meetings.canceler_type,
        meetings.cancel_reason,
        coalesce(invitee_counts.loaded_invitees, 0) as loaded_invitees,
        coalesce(invitee_counts.active_invitees, 0) as active_invitees,
        coalesce(invitee_counts.no_show_invitees, 0) as no_show_invitees,
        meetings.has_loaded_event_type
    from meetings
    left join invitee_counts
        on invitee_counts.event_uri = meetings.event_uri
)

select * from final
