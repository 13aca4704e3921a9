-- metrics_utm_attribution adds up to fct_bookings, outcome by outcome.
with

attribution as (
    select
        sum(bookings) as bookings,
        sum(completed) as completed,
        sum(no_shows) as no_shows,
        sum(canceled) as canceled,
        sum(upcoming) as upcoming,
        sum(rescheduled_bookings) as rescheduled_bookings
    from {{ ref('metrics_utm_attribution') }}
),

bookings as (
    select
        count(*) as bookings,
        count(case when outcome = 'completed' then 1 end) as completed,
        count(case when outcome = 'no_show' then 1 end) as no_shows,
        count(case when outcome = 'canceled' then 1 end) as canceled,
        count(case when outcome = 'upcoming' then 1 end) as upcoming,
        count(case when reschedule_count > 0 then 1 end) as rescheduled_bookings
    from {{ ref('fct_bookings') }}
)

select *
from attribution
cross join bookings
where coalesce(attribution.bookings, 0) <> bookings.bookings
    or coalesce(attribution.completed, 0) <> bookings.completed
    or coalesce(attribution.no_shows, 0) <> bookings.no_shows
    or coalesce(attribution.canceled, 0) <> bookings.canceled
    or coalesce(attribution.upcoming, 0) <> bookings.upcoming
    or coalesce(attribution.rescheduled_bookings, 0) <> bookings.rescheduled_bookings
    or attribution.bookings
    <> coalesce(attribution.completed, 0) + coalesce(attribution.no_shows, 0)
    + coalesce(attribution.canceled, 0) + coalesce(attribution.upcoming, 0)
