-- metrics_lead_time: no two rows share the key (event_type_name, utm_source); dbt has no built-in test for a
-- key of several columns (each column's not_null is declared in schema.yml).
select
    event_type_name, utm_source,
    count(*) as rows_with_key
from {{ ref('metrics_lead_time') }}
group by event_type_name, utm_source
having count(*) > 1
