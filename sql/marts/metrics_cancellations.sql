with

bookings as (
    select * from {{ ref('fct_bookings') }}
),

monthly as (
    select
        cast(date_trunc('month', start_at at time zone 'UTC') as date) as month,
        event_type_name,
        outcome,
        canceler_type,
        cancel_lead_hours,
        reschedule_count
    from bookings
),

counted as (
    select
        month,
        event_type_name,
        count(*) as bookings,
        count(case when outcome = 'canceled' then 1 end) as canceled,
        count(case when outcome = 'canceled' and canceler_type = 'host' then 1 end)
            as canceled_by_host,
        count(case when outcome = 'canceled' and canceler_type = 'invitee' then 1 end)
            as canceled_by_invitee,
        count(case when reschedule_count > 0 then 1 end) as rescheduled_bookings,
        count(case when outcome = 'canceled' and cancel_lead_hours < 24 then 1 end)
            as late_cancellations,
        percentile_cont(0.5) within group (
            order by case when outcome = 'canceled' then cancel_lead_hours end
        ) as median_cancel_lead_hours
    from monthly
    group by month, event_type_name
),

final as (
    select
        month,
        event_type_name,
        bookings,
        canceled,
        canceled_by_host,
        canceled_by_invitee,
        rescheduled_bookings,
        late_cancellations,
        cast(canceled as double precision) / nullif(bookings, 0) as cancellation_rate,
        cast(rescheduled_bookings as double precision) / nullif(bookings, 0) as reschedule_rate,
        median_cancel_lead_hours
    from counted
)

select * from final
