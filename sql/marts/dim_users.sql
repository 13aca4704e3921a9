with

users as (
    select * from {{ ref('stg_calendly__users') }}
),

meetings as (
    select * from {{ ref('int_meetings') }}
),

hosted_meetings as (
    select
        host_user_uri,
        count(*) as hosted_meetings
    from meetings
    where host_user_uri is not null
    group by host_user_uri
),

final as (
    select
        users.user_uri,
        users.user_name,
        users.user_slug,
        users.user_email,
        users.user_timezone,
        users.organization_uri,
        coalesce(hosted_meetings.hosted_meetings, 0) as hosted_meetings,
        users.created_at,
        users.updated_at
    from users
    left join hosted_meetings
        on hosted_meetings.host_user_uri = users.user_uri
)

select * from final
