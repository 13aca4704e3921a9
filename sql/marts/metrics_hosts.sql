with

bookings as (
    select * from {{ ref('fct_bookings') }}
),

users as (
    select * from {{ ref('dim_users') }}
),

counted as (
    select
        coalesce(host_user_uri, '(none)') as host_user_uri,
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
    from bookings
    group by coalesce(host_user_uri, '(none)')
),

final as (
    select
        counted.host_user_uri,
        users.user_name as host_name,
        users.user_email as host_email,
        counted.bookings,
        counted.completed + counted.no_shows as held,
        counted.completed,
        counted.no_shows,
        counted.canceled,
        counted.canceled_by_host,
        counted.canceled_by_invitee,
        counted.upcoming,
        counted.rescheduled_bookings,
        cast(counted.no_shows as double precision)
        / nullif(counted.completed + counted.no_shows, 0) as no_show_rate,
        cast(counted.canceled as double precision) / nullif(counted.bookings, 0)
            as cancellation_rate,
        cast(counted.canceled_by_host as double precision) / nullif(counted.bookings, 0)
            as host_cancellation_rate,
        cast(counted.canceled_by_invitee as double precision) / nullif(counted.bookings, 0)
            as invitee_cancellation_rate,
        cast(counted.rescheduled_bookings as double precision) / nullif(counted.bookings, 0)
            as reschedule_rate
    from counted
    left join users
        on users.user_uri = counted.host_user_uri
)

select * from final
