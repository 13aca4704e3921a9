-- stg_calendly__users: the key (user_uri) is unique and never null.
select
    user_uri,
    count(*) as rows_with_key
from {{ ref('stg_calendly__users') }}
group by user_uri
having count(*) > 1
    or user_uri is null
