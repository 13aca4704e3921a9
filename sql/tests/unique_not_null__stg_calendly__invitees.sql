-- stg_calendly__invitees: the key (invitee_uri) is unique and never null.
select
    invitee_uri,
    count(*) as rows_with_key
from {{ ref('stg_calendly__invitees') }}
group by invitee_uri
having count(*) > 1
    or invitee_uri is null
