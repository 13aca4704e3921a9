with

submissions as (
    select * from {{ ref('stg_calendly__routing_form_submissions') }}
),

invitees as (
    select * from {{ ref('stg_calendly__invitees') }}
),

chains as (
    select * from {{ ref('int_invitee_chains') }}
),

bookings as (
    select * from {{ ref('int_bookings') }}
),

links as (
    select
        submission_uri,
        submitter_uri as invitee_uri
    from submissions
    where submitter_uri is not null

    union

    select
        routing_form_submission_uri as submission_uri,
        invitee_uri
    from invitees
    where routing_form_submission_uri is not null
),

linked_bookings as (
    select distinct
        links.submission_uri,
        bookings.booking_id,
        bookings.booked_at,
        bookings.outcome
    from links
    inner join chains
        on chains.invitee_uri = links.invitee_uri
    inner join bookings
        on bookings.booking_id = chains.booking_id
),

ranked as (
    select
        linked_bookings.*,
        row_number() over (
            partition by submission_uri order by booked_at, booking_id
        ) as booking_rank
    from linked_bookings
),

final as (
    select
        submissions.submission_uri,
        submissions.routing_form_uri,
        submissions.created_at as submitted_at,
        ranked.booking_id,
        ranked.outcome
    from submissions
    left join ranked
        on ranked.submission_uri = submissions.submission_uri
        and ranked.booking_rank = 1
)

select * from final
