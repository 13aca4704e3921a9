-- int_event_hosts: the key (event_uri) is unique and never null.
select
    event_uri,
    count(*) as rows_with_key
from {{ ref('int_event_hosts') }}
group by event_uri
having count(*) > 1
    or event_uri is null
