with

event_types as (
    select * from {{ ref('stg_calendly__event_types') }}
),

final as (
    select
        event_type_uri,
        event_type_name,
        event_type_slug,
        event_type_kind,
        pooling_type,
        event_type_category,
        duration_minutes,
        scheduling_url,
        profile_type,
        profile_name,
        profile_owner_uri,
        is_active,
        is_secret,
        is_admin_managed,
        created_at,
        updated_at
    from event_types
)

select * from final
