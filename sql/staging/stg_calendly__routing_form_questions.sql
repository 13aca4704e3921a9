with

source as (
    select * from {{ source('calendly', 'routing_forms__questions') }}
),

parent_forms as (
    select * from {{ source('calendly', 'routing_forms') }}
),

renamed as (
    select
        cast(parent_forms.uri as varchar) as routing_form_uri,
        cast(source._dlt_list_idx as bigint) as question_position,
        cast(source.uuid as varchar) as question_uuid,
        cast(source.name as varchar) as question_name,
        cast(source.type as varchar) as question_type
    from source
    inner join parent_forms
        on parent_forms._dlt_id = source._dlt_parent_id
),

final as (
    select * from renamed
)

select * from final
