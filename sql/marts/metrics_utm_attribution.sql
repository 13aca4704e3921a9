with

bookings as (
    select * from {{ ref('fct_bookings') }}
),

attributed as (
    select
        coalesce(utm_source, '(none)') as utm_source,
        coalesce(utm_medium, '(none)') as utm_medium,
        coalesce(utm_campaign, '(none)') as utm_campaign,
        outcome,
        reschedule_count
    from bookings
),

counted as (
    select
        utm_source,
        utm_medium,
        utm_campaign,
        count(*) as bookings,
        count(case when outcome = 'completed' then 1 end) as completed,
        count(case when outcome = 'no_show' then 1 end) as no_shows,
        count(case when outcome = 'canceled' then 1 end) as canceled,
        count(case when outcome = 'upcoming' then 1 end) as upcoming,
        count(case when reschedule_count > 0 then 1 end) as rescheduled_bookings
    from attributed
    group by utm_source, utm_medium, utm_campaign
),

final as (
    select
        utm_source,
        utm_medium,
        utm_campaign,
        bookings,
        completed,
        no_shows,
        canceled,
        upcoming,
        rescheduled_bookings,
        cast(completed as double precision) / nullif(completed + no_shows, 0) as show_rate,
        cast(no_shows as double precision) / nullif(completed + no_shows, 0) as no_show_rate,
        cast(canceled as double precision) / nullif(bookings, 0) as cancellation_rate
    from counted
)

select * from final
