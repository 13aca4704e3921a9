-- stg_calendly__routing_form_answers: no two rows share the key (submission_uri, answer_position); dbt has no built-in test for a
-- key of several columns (each column's not_null is declared in schema.yml).
select
    submission_uri, answer_position,
    count(*) as rows_with_key
from {{ ref('stg_calendly__routing_form_answers') }}
group by submission_uri, answer_position
having count(*) > 1
