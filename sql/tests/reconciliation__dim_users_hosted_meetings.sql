-- dim_users.hosted_meetings equals the meetings fct_meetings gives each user as host.
select users.user_uri, users.hosted_meetings, count(meetings.event_uri) as meetings_hosted
from {{ ref('dim_users') }} as users
left join {{ ref('fct_meetings') }} as meetings
    on meetings.host_user_uri = users.user_uri
group by users.user_uri, users.hosted_meetings
having count(meetings.event_uri) <> users.hosted_meetings
