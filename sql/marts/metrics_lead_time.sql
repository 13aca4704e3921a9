with

bookings as (
    select * from {{ ref('fct_bookings') }}
),

leads as (
    select
        event_type_name,
        coalesce(utm_source, '(none)') as utm_source,
        cast(extract(epoch from (start_at - booked_at)) as double precision) / 3600.0
            as lead_hours
    from bookings
),

by_grain as (
    select event_type_name, utm_source, lead_hours from leads

    union all

    select event_type_name, '(all)' as utm_source, lead_hours from leads

    union all

    select '(all)' as event_type_name, utm_source, lead_hours from leads

    union all

    select '(all)' as event_type_name, '(all)' as utm_source, lead_hours from leads
),

counted as (
    select
        event_type_name,
        utm_source,
        count(*) as bookings,
        count(case when lead_hours <= 24 then 1 end) as booked_within_24h,
        count(case when lead_hours <= 168 then 1 end) as booked_within_7d,
        percentile_cont(0.5) within group (order by lead_hours) as median_lead_hours,
        percentile_cont(0.9) within group (order by lead_hours) as p90_lead_hours
    from by_grain
    group by event_type_name, utm_source
),

final as (
    select
        event_type_name,
        utm_source,
        bookings,
        median_lead_hours,
        p90_lead_hours,
        booked_within_24h,
        booked_within_7d,
        cast(booked_within_24h as double precision) / nullif(bookings, 0)
            as share_within_24h,
        cast(booked_within_7d as double precision) / nullif(bookings, 0) as share_within_7d
    from counted
)

select * from final
