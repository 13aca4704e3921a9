-- Every booking's host is a user in dim_users (the source loads hosts who left the
-- org too; a row here means a host's user could not be read from the API).
select bookings.booking_id, bookings.host_user_uri
from {{ ref('fct_bookings') }} as bookings
left join {{ ref('dim_users') }} as users
    on users.user_uri = bookings.host_user_uri
where bookings.host_user_uri is not null
    and users.user_uri is null
