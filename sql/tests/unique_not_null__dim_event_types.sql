-- dim_event_types: the key (event_type_uri) is unique and never null.
select
    event_type_uri,
    count(*) as rows_with_key
from {{ ref('dim_event_types') }}
group by event_type_uri
having count(*) > 1
    or event_type_uri is null
