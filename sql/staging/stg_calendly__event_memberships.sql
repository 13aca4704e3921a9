with

source as (
    select * from {{ source('calendly', 'scheduled_events__event_memberships') }}
),

parent_events as (
    select * from {{ source('calendly', 'scheduled_events') }}
    where coalesce(is_deleted, false) = false
),

renamed as (
    select
        cast(parent_events.uri as varchar) as event_uri,
        cast(source._dlt_list_idx as bigint) as membership_position,
        cast(source."user" as varchar) as user_uri
    from source
    inner join parent_events
        on parent_events._dlt_id = source._dlt_parent_id
),

final as (
    select * from renamed
)

select * from final
