with

bookings as (
    select * from {{ ref('fct_bookings') }}
),

users as (
    select * from {{ ref('dim_users') }}
),

localized as (
    select
        bookings.outcome,
        users.user_timezone is null as is_utc_fallback,
        bookings.start_at at time zone coalesce(users.user_timezone, 'UTC') as local_start
    from bookings
    left join users
        on users.user_uri = bookings.host_user_uri
),

slotted as (
    select
        cast(extract(isodow from local_start) as integer) as weekday,
        cast(extract(hour from local_start) as integer) as hour,
        outcome,
        is_utc_fallback
    from localized
),

counted as (
    select
        weekday,
        hour,
        count(*) as bookings,
        count(case when outcome in ('completed', 'no_show') then 1 end) as held,
        count(case when outcome = 'no_show' then 1 end) as no_shows,
        count(case when is_utc_fallback then 1 end) as utc_fallback_bookings
    from slotted
    group by weekday, hour
),

final as (
    select
        weekday,
        case weekday
            when 1 then 'Monday'
            when 2 then 'Tuesday'
            when 3 then 'Wednesday'
            when 4 then 'Thursday'
            when 5 then 'Friday'
            when 6 then 'Saturday'
            when 7 then 'Sunday'
        end as weekday_name,
        hour,
        bookings,
        held,
        no_shows,
        cast(no_shows as double precision) / nullif(held, 0) as no_show_rate,
        utc_fallback_bookings
    from counted
)

select * from final
