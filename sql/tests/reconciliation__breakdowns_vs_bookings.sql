-- metrics_hosts, metrics_weekly, metrics_popular_times and the detail rows of
-- metrics_lead_time (no `(all)` in the key) each add up to fct_bookings.
with

bookings as (
    select
        count(*) as bookings,
        count(case when outcome in ('completed', 'no_show') then 1 end) as held,
        count(case when outcome = 'no_show' then 1 end) as no_shows,
        count(case when outcome = 'canceled' then 1 end) as canceled
    from {{ ref('fct_bookings') }}
),

hosts as (
    select
        sum(bookings) as bookings,
        sum(held) as held,
        sum(no_shows) as no_shows,
        sum(canceled) as canceled,
        sum(canceled_by_host) + sum(canceled_by_invitee) as canceled_by_someone
    from {{ ref('metrics_hosts') }}
),

weekly as (
    select
        sum(bookings) as bookings,
        sum(held) as held,
        sum(no_shows) as no_shows,
        sum(canceled) as canceled
    from {{ ref('metrics_weekly') }}
),

popular_times as (
    select
        sum(bookings) as bookings,
        sum(held) as held,
        sum(no_shows) as no_shows
    from {{ ref('metrics_popular_times') }}
),

lead_times as (
    select
        sum(case when event_type_name <> '(all)' and utm_source <> '(all)' then bookings end)
            as detail_bookings,
        sum(case when event_type_name = '(all)' and utm_source = '(all)' then bookings end)
            as total_bookings
    from {{ ref('metrics_lead_time') }}
)

select *
from bookings
cross join hosts
cross join weekly
cross join popular_times
cross join lead_times
where coalesce(hosts.bookings, 0) <> bookings.bookings
    or coalesce(hosts.held, 0) <> bookings.held
    or coalesce(hosts.no_shows, 0) <> bookings.no_shows
    or coalesce(hosts.canceled, 0) <> bookings.canceled
    or coalesce(hosts.canceled_by_someone, 0) <> bookings.canceled
    or coalesce(weekly.bookings, 0) <> bookings.bookings
    or coalesce(weekly.held, 0) <> bookings.held
    or coalesce(weekly.no_shows, 0) <> bookings.no_shows
    or coalesce(weekly.canceled, 0) <> bookings.canceled
    or coalesce(popular_times.bookings, 0) <> bookings.bookings
    or coalesce(popular_times.held, 0) <> bookings.held
    or coalesce(popular_times.no_shows, 0) <> bookings.no_shows
    or coalesce(lead_times.detail_bookings, 0) <> bookings.bookings
    or coalesce(lead_times.total_bookings, 0) <> bookings.bookings
