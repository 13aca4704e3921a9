-- Every meeting's host is a user in dim_users (the source loads hosts who left the
-- org too; a row here means a host's user could not be read from the API).
select meetings.event_uri, meetings.host_user_uri
from {{ ref('fct_meetings') }} as meetings
left join {{ ref('dim_users') }} as users
    on users.user_uri = meetings.host_user_uri
where meetings.host_user_uri is not null
    and users.user_uri is null
