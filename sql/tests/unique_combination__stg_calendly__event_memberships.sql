-- stg_calendly__event_memberships: no two rows share the key (event_uri, membership_position); dbt has no built-in test for a
-- key of several columns (each column's not_null is declared in schema.yml).
select
    event_uri, membership_position,
    count(*) as rows_with_key
from {{ ref('stg_calendly__event_memberships') }}
group by event_uri, membership_position
having count(*) > 1
