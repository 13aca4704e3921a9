-- metrics_utm_attribution: the key (utm_source, utm_medium, utm_campaign) is unique and never null.
select
    utm_source, utm_medium, utm_campaign,
    count(*) as rows_with_key
from {{ ref('metrics_utm_attribution') }}
group by utm_source, utm_medium, utm_campaign
having count(*) > 1
    or utm_source is null
    or utm_medium is null
    or utm_campaign is null
