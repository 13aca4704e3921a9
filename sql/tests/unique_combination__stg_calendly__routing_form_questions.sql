-- stg_calendly__routing_form_questions: no two rows share the key (routing_form_uri, question_position); dbt has no built-in test for a
-- key of several columns (each column's not_null is declared in schema.yml).
select
    routing_form_uri, question_position,
    count(*) as rows_with_key
from {{ ref('stg_calendly__routing_form_questions') }}
group by routing_form_uri, question_position
having count(*) > 1
