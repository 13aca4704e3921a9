with

source as (
    select * from {{ source('calendly', 'routing_form_submissions__questions_and_answers') }}
),

parent_submissions as (
    select * from {{ source('calendly', 'routing_form_submissions') }}
),

renamed as (
    select
        cast(parent_submissions.uri as varchar) as submission_uri,
        cast(source._dlt_list_idx as bigint) as answer_position,
        cast(source.question_uuid as varchar) as question_uuid,
        cast(source.question as varchar) as question,
        cast(source.answer as varchar) as answer
    from source
    inner join parent_submissions
        on parent_submissions._dlt_id = source._dlt_parent_id
),

final as (
    select * from renamed
)

select * from final
