with

bookings as (
    select * from {{ ref('fct_bookings') }}
),

weekly as (
    select
        cast(date_trunc('week', start_at at time zone 'UTC') as date) as week,
        event_type_name,
        outcome,
        canceler_type,
        reschedule_count
    from bookings
),

counted as (
    select
        week,
        event_type_name,
        count(*) as bookings,
        count(case when outcome = 'completed' then 1 end) as completed,
        count(case when outcome = 'no_show' then 1 end) as no_shows,
        count(case when outcome = 'canceled' then 1 end) as canceled,
        count(case when outcome = 'canceled' and canceler_type = 'host' then 1 end)
            as canceled_by_host,
        count(case when outcome = 'canceled' and canceler_type = 'invitee' then 1 end)
            as canceled_by_invitee,
        count(case when outcome = 'upcoming' then 1 end) as upcoming,
        count(case when reschedule_count > 0 then 1 end) as rescheduled_bookings
    from weekly
    group by week, event_type_name
),

final as (
    select
        week,
        event_type_name,
        bookings,
        completed + no_shows as held,
        completed,
        no_shows,
        canceled,
        canceled_by_host,
        canceled_by_invitee,
        upcoming,
        rescheduled_bookings,
        cast(no_shows as double precision) / nullif(completed + no_shows, 0) as no_show_rate,
        cast(completed as double precision) / nullif(completed + no_shows, 0) as show_rate,
        cast(canceled as double precision) / nullif(bookings, 0) as cancellation_rate,
        cast(rescheduled_bookings as double precision) / nullif(bookings, 0)
            as reschedule_rate
    from counted
)

select * from final
