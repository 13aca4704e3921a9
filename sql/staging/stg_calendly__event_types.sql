with

source as (
    select * from {{ source('calendly', 'event_types') }}
),

renamed as (
    select
        cast(uri as varchar) as event_type_uri,
        cast(name as varchar) as event_type_name,
        cast(slug as varchar) as event_type_slug,
        cast(kind as varchar) as event_type_kind,
        cast(pooling_type as varchar) as pooling_type,
        cast(type as varchar) as event_type_category,
        cast(duration as bigint) as duration_minutes,
        cast(scheduling_url as varchar) as scheduling_url,
        cast(profile__type as varchar) as profile_type,
        cast(profile__name as varchar) as profile_name,
        cast(profile__owner as varchar) as profile_owner_uri,
        cast(active as boolean) as is_active,
        cast(secret as boolean) as is_secret,
        cast(admin_managed as boolean) as is_admin_managed,
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at
    from source
),

final as (
    select * from renamed
)

select * from final
