-- metrics_no_shows: no two rows share the key (month, event_type_name); dbt has no built-in test for a
-- key of several columns (each column's not_null is declared in schema.yml).
select
    month, event_type_name,
    count(*) as rows_with_key
from {{ ref('metrics_no_shows') }}
group by month, event_type_name
having count(*) > 1
