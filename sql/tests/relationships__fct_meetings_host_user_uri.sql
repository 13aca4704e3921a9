-- A meeting's host, when the host's user is loaded, counts that meeting in dim_users.
select users.user_uri, users.hosted_meetings, count(meetings.event_uri) as meetings_hosted
from {{ ref('dim_users') }} as users
left join {{ ref('fct_meetings') }} as meetings
    on meetings.host_user_uri = users.user_uri
group by users.user_uri, users.hosted_meetings
having count(meetings.event_uri) <> users.hosted_meetings
