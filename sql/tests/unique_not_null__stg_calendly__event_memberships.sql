-- stg_calendly__event_memberships: the key (event_uri, membership_position) is unique and never null.
select
    event_uri, membership_position,
    count(*) as rows_with_key
from {{ ref('stg_calendly__event_memberships') }}
group by event_uri, membership_position
having count(*) > 1
    or event_uri is null
    or membership_position is null
