-- One fct_meetings row per staging scheduled event.
with

events as (
    select count(*) as events from {{ ref('stg_calendly__scheduled_events') }}
),

meetings as (
    select count(*) as meetings from {{ ref('fct_meetings') }}
)

select *
from events
cross join meetings
where events <> meetings
