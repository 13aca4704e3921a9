with

chains as (
    select * from {{ ref('int_invitee_chains') }}
),

invitees as (
    select * from {{ ref('stg_calendly__invitees') }}
),

meetings as (
    select * from {{ ref('int_meetings') }}
),

reschedule_counts as (
    select
        chains.booking_id,
        count(case when coalesce(invitees.is_rescheduled, false) then 1 end) as reschedule_count
    from chains
    inner join invitees
        on invitees.invitee_uri = chains.invitee_uri
    group by chains.booking_id
),

last_invitees as (
    select
        chains.booking_id,
        invitees.*
    from chains
    inner join invitees
        on invitees.invitee_uri = chains.invitee_uri
    where chains.is_last_in_chain
),

joined as (
    select
        last_invitees.booking_id,
        last_invitees.invitee_uri,
        last_invitees.event_uri,
        meetings.event_type_uri,
        meetings.event_type_name,
        meetings.host_user_uri,
        last_invitees.invitee_email,
        first_invitees.created_at as booked_at,
        meetings.start_at,
        reschedule_counts.reschedule_count,
        last_invitees.invitee_status,
        coalesce(last_invitees.is_rescheduled, false) as is_rescheduled_away,
        last_invitees.no_show_uri is not null as has_no_show,
        last_invitees.canceled_at,
        last_invitees.canceler_type,
        last_invitees.cancel_reason,
        first_invitees.utm_source,
        first_invitees.utm_medium,
        first_invitees.utm_campaign,
        first_invitees.utm_content,
        first_invitees.utm_term
    from last_invitees
    inner join invitees as first_invitees
        on first_invitees.invitee_uri = last_invitees.booking_id
    inner join reschedule_counts
        on reschedule_counts.booking_id = last_invitees.booking_id
    left join meetings
        on meetings.event_uri = last_invitees.event_uri
),

with_outcome as (
    select
        joined.*,
        case
            when invitee_status = 'canceled' and not is_rescheduled_away then 'canceled'
            when start_at > cast('{{ var('as_of') }}' as timestamptz)
                or is_rescheduled_away then 'upcoming'
            when has_no_show then 'no_show'
            else 'completed'
        end as outcome
    from joined
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
        case when outcome = 'canceled' then canceled_at end as canceled_at,
        case when outcome = 'canceled' then canceler_type end as canceler_type,
        case when outcome = 'canceled' then cancel_reason end as cancel_reason,
        case
            when outcome = 'canceled'
                then cast(extract(epoch from (start_at - canceled_at)) as double precision) / 3600.0
        end as cancel_lead_hours,
        utm_source,
        utm_medium,
        utm_campaign,
        utm_content,
        utm_term
    from with_outcome
)

select * from final
