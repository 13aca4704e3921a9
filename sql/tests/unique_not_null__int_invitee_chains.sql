-- int_invitee_chains: the key (invitee_uri) is unique and never null.
select
    invitee_uri,
    count(*) as rows_with_key
from {{ ref('int_invitee_chains') }}
group by invitee_uri
having count(*) > 1
    or invitee_uri is null
