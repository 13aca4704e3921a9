with

source as (
    select * from {{ source('calendly', 'routing_forms') }}
),

renamed as (
    select
        cast(uri as varchar) as routing_form_uri,
        cast(name as varchar) as routing_form_name,
        cast(status as varchar) as routing_form_status,
        cast(organization as varchar) as organization_uri,
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at
    from source
),

final as (
    select * from renamed
)

select * from final
