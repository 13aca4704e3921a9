-- int_meetings: the key (event_uri) is unique and never null.
select
    event_uri,
    count(*) as rows_with_key
from {{ ref('int_meetings') }}
group by event_uri
having count(*) > 1
    or event_uri is null
