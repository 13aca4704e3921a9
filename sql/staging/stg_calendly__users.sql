with

source as (
    select * from {{ source('calendly', 'users') }}
),

renamed as (
    select
        cast(uri as varchar) as user_uri,
        cast(name as varchar) as user_name,
        cast(slug as varchar) as user_slug,
        cast(email as varchar) as user_email,
        cast(timezone as varchar) as user_timezone,
        cast(current_organization as varchar) as organization_uri,
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at
    from source
),

final as (
    select * from renamed
)

select * from final
