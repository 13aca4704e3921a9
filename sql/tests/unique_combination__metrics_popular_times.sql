-- metrics_popular_times: no two rows share the key (weekday, hour); dbt has no built-in test for a
-- key of several columns (each column's not_null is declared in schema.yml).
select
    weekday, hour,
    count(*) as rows_with_key
from {{ ref('metrics_popular_times') }}
group by weekday, hour
having count(*) > 1
