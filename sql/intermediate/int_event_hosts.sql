with

memberships as (
    select * from {{ ref('stg_calendly__event_memberships') }}
),

ranked as (
    select
        event_uri,
        user_uri,
        row_number() over (
            partition by event_uri order by membership_position
        ) as host_rank
    from memberships
),

final as (
    select
        event_uri,
        user_uri as host_user_uri
    from ranked
    where host_rank = 1
)

select * from final
