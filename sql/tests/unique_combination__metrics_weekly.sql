-- metrics_weekly: no two rows share the key (week, event_type_name); dbt has no built-in test for a
-- key of several columns (each column's not_null is declared in schema.yml).
select
    week, event_type_name,
    count(*) as rows_with_key
from {{ ref('metrics_weekly') }}
group by week, event_type_name
having count(*) > 1
