-- int_bookings: the key (booking_id) is unique and never null.
select
    booking_id,
    count(*) as rows_with_key
from {{ ref('int_bookings') }}
group by booking_id
having count(*) > 1
    or booking_id is null
