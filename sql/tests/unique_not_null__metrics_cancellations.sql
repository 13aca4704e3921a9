-- metrics_cancellations: the key (month, event_type_name) is unique and never null.
select
    month, event_type_name,
    count(*) as rows_with_key
from {{ ref('metrics_cancellations') }}
group by month, event_type_name
having count(*) > 1
    or month is null
    or event_type_name is null
