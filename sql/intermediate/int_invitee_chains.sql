with recursive

invitees as (
    select * from {{ ref('stg_calendly__invitees') }}
),

chain_starts as (
    select invitees.invitee_uri
    from invitees
    left join invitees as previous_invitees
        on previous_invitees.invitee_uri = invitees.old_invitee_uri
    where previous_invitees.invitee_uri is null
),

chain_walk as (
    select
        chain_starts.invitee_uri as booking_id,
        chain_starts.invitee_uri,
        1 as chain_position
    from chain_starts

    union all

    select
        chain_walk.booking_id,
        next_invitees.invitee_uri,
        chain_walk.chain_position + 1 as chain_position
    from chain_walk
    inner join invitees as walked_invitees
        on walked_invitees.invitee_uri = chain_walk.invitee_uri
    inner join invitees as next_invitees
        on next_invitees.invitee_uri = walked_invitees.new_invitee_uri
    where chain_walk.chain_position < {{ var('max_chain_length') }}
),

positioned as (
    select
        booking_id,
        invitee_uri,
        chain_position,
        max(chain_position) over (partition by booking_id) as chain_length
    from chain_walk
),

final as (
    select
        booking_id,
        invitee_uri,
        chain_position,
        chain_length,
        chain_position = 1 as is_first_in_chain,
        chain_position = chain_length as is_last_in_chain
    from positioned
)

select * from final
