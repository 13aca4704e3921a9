with

submissions as (
    select * from {{ ref('int_routing_submissions') }}
),

forms as (
    select * from {{ ref('stg_calendly__routing_forms') }}
),

questions as (
    select * from {{ ref('stg_calendly__routing_form_questions') }}
),

answers as (
    select * from {{ ref('stg_calendly__routing_form_answers') }}
),

choice_answers as (
    select
        submissions.routing_form_uri,
        answers.question,
        answers.answer,
        submissions.booking_id,
        submissions.outcome
    from answers
    inner join submissions
        on submissions.submission_uri = answers.submission_uri
    inner join questions
        on questions.routing_form_uri = submissions.routing_form_uri
        and questions.question_uuid = answers.question_uuid
    where questions.question_type in ('select', 'radios')
),

by_grain as (
    select
        routing_form_uri,
        '(all)' as question,
        '(all)' as answer,
        booking_id,
        outcome
    from submissions

    union all

    select
        routing_form_uri,
        coalesce(question, '(none)') as question,
        coalesce(answer, '(none)') as answer,
        booking_id,
        outcome
    from choice_answers
),

counted as (
    select
        routing_form_uri,
        question,
        answer,
        count(*) as submissions,
        count(booking_id) as booked,
        count(case when outcome in ('completed', 'no_show') then 1 end) as held,
        count(case when outcome = 'no_show' then 1 end) as no_shows
    from by_grain
    group by routing_form_uri, question, answer
),

final as (
    select
        counted.routing_form_uri,
        forms.routing_form_name,
        counted.question,
        counted.answer,
        counted.submissions,
        counted.booked,
        counted.held,
        counted.no_shows,
        cast(counted.booked as double precision) / nullif(counted.submissions, 0)
            as booking_rate,
        cast(counted.held as double precision) / nullif(counted.booked, 0) as held_rate,
        cast(counted.held as double precision) / nullif(counted.submissions, 0)
            as submission_to_held_rate,
        cast(counted.no_shows as double precision) / nullif(counted.held, 0) as no_show_rate
    from counted
    left join forms
        on forms.routing_form_uri = counted.routing_form_uri
)

select * from final
