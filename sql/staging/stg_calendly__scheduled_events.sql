with

source as (
    select * from {{ source('calendly', 'scheduled_events') }}
),

not_deleted as (
    select * from source
    where coalesce(is_deleted, false) = false
),

renamed as (
    select
        cast(uri as varchar) as event_uri,
        cast(name as varchar) as event_name,
        cast(status as varchar) as event_status,
        cast(event_type as varchar) as event_type_uri,
        cast(location__type as varchar) as location_type,
        cast(invitees_counter__total as bigint) as invitees_total,
        cast(invitees_counter__active as bigint) as invitees_active,
        cast(invitees_counter__limit as bigint) as invitees_limit,
        cast(cancellation__created_at as timestamptz) as canceled_at,
        cast(cancellation__canceler_type as varchar) as canceler_type,
        cast(cancellation__canceled_by as varchar) as canceled_by,
        cast(cancellation__reason as varchar) as cancel_reason,
        cast(start_time as timestamptz) as start_at,
        cast(end_time as timestamptz) as end_at,
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at
    from not_deleted
),

final as (
    select * from renamed
)

select * from final
