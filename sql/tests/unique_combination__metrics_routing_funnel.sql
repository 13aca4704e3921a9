-- metrics_routing_funnel: no two rows share the key (routing_form_uri, question, answer); dbt has no built-in test for a
-- key of several columns (each column's not_null is declared in schema.yml).
select
    routing_form_uri, question, answer,
    count(*) as rows_with_key
from {{ ref('metrics_routing_funnel') }}
group by routing_form_uri, question, answer
having count(*) > 1
