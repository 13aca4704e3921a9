-- metrics_utm_attribution: no two rows share the key (utm_source, utm_medium, utm_campaign); dbt has no built-in test for a
-- key of several columns (each column's not_null is declared in schema.yml).
select
    utm_source, utm_medium, utm_campaign,
    count(*) as rows_with_key
from {{ ref('metrics_utm_attribution') }}
group by utm_source, utm_medium, utm_campaign
having count(*) > 1
