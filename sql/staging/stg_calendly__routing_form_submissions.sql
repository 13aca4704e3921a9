with

source as (
    select * from {{ source('calendly', 'routing_form_submissions') }}
),

renamed as (
    select
        cast(uri as varchar) as submission_uri,
        cast(routing_form as varchar) as routing_form_uri,
        cast(submitter as varchar) as submitter_uri,
        cast(submitter_type as varchar) as submitter_type,
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at
    from source
),

final as (
    select * from renamed
)

select * from final
