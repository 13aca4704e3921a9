-- The form rows of metrics_routing_funnel (question `(all)`) count every staged
-- submission once, and never more booked than submitted or more held than booked.
with

submissions as (
    select count(*) as submissions from {{ ref('stg_calendly__routing_form_submissions') }}
),

funnel as (
    select
        sum(case when question = '(all)' then submissions end) as form_submissions,
        count(case when booked > submissions or held > booked or no_shows > held then 1 end)
            as impossible_rows
    from {{ ref('metrics_routing_funnel') }}
)

select *
from submissions
cross join funnel
where coalesce(funnel.form_submissions, 0) <> submissions.submissions
    or funnel.impossible_rows > 0
