-- metrics_no_shows and metrics_cancellations add up to fct_bookings.
with

no_shows as (
    select
        sum(held) as held,
        sum(no_shows) as no_shows
    from {{ ref('metrics_no_shows') }}
),

cancellations as (
    select
        sum(bookings) as bookings,
        sum(canceled) as canceled,
        sum(canceled_by_host) + sum(canceled_by_invitee) as canceled_by_someone,
        sum(late_cancellations) as late_cancellations
    from {{ ref('metrics_cancellations') }}
),

bookings as (
    select
        count(*) as bookings,
        count(case when outcome in ('completed', 'no_show') then 1 end) as held,
        count(case when outcome = 'no_show' then 1 end) as no_shows,
        count(case when outcome = 'canceled' then 1 end) as canceled,
        count(case when outcome = 'canceled' and cancel_lead_hours < 24 then 1 end)
            as late_cancellations
    from {{ ref('fct_bookings') }}
)

select *
from no_shows
cross join cancellations
cross join bookings
where coalesce(no_shows.held, 0) <> bookings.held
    or coalesce(no_shows.no_shows, 0) <> bookings.no_shows
    or coalesce(cancellations.bookings, 0) <> bookings.bookings
    or coalesce(cancellations.canceled, 0) <> bookings.canceled
    or coalesce(cancellations.canceled_by_someone, 0) <> bookings.canceled
    or coalesce(cancellations.late_cancellations, 0) <> bookings.late_cancellations
