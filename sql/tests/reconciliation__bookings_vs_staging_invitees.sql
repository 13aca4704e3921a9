-- One booking per chain: as many bookings as staging invitees without a
-- loaded previous invitee, and every staging invitee in exactly one chain.
with

invitees as (
    select * from {{ ref('stg_calendly__invitees') }}
),

chain_starts as (
    select count(*) as chain_starts
    from invitees
    where old_invitee_uri is null
        or old_invitee_uri not in (select invitee_uri from invitees)
),

bookings as (
    select count(*) as bookings from {{ ref('fct_bookings') }}
),

chained_invitees as (
    select
        count(*) as chain_rows,
        count(distinct invitee_uri) as chained_invitees
    from {{ ref('int_invitee_chains') }}
),

staged_invitees as (
    select count(*) as staged_invitees from invitees
)

select *
from chain_starts
cross join bookings
cross join chained_invitees
cross join staged_invitees
where chain_starts <> bookings
    or chain_rows <> staged_invitees
    or chained_invitees <> staged_invitees
