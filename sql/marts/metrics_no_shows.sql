with

bookings as (
    select * from {{ ref('fct_bookings') }}
),

monthly as (
    select
        cast(date_trunc('month', start_at at time zone 'UTC') as date) as month,
        event_type_name,
        outcome
    from bookings
),

counted as (
    select
        month,
        event_type_name,
        count(case when outcome in ('completed', 'no_show') then 1 end) as held,
        count(case when outcome = 'no_show' then 1 end) as no_shows
    from monthly
    group by month, event_type_name
),

final as (
    select
        month,
        event_type_name,
        held,
        no_shows,
        cast(no_shows as double precision) / nullif(held, 0) as no_show_rate
    from counted
)

select * from final
