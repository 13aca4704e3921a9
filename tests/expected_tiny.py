"""Expected marts of the hand-built tiny organization, counted BY HAND.

Source: ``calendly_elt/simulator/scenarios.py`` (its docstring lists B1..B16).
``AS_OF`` is the scenario's ``now``. Nothing here is computed from the store:
every number below was worked out on paper from the scenario script, so the
ground truth (and the SQL marts, which reuse this file) are checked against
an independent count.

URIs are not hand-knowable (uuids are seeded), so bookings are keyed by the
email of their first invitee; ``host`` names the host user ("olivia"/"max").
"""

from __future__ import annotations

from datetime import UTC, date, datetime

AS_OF = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def ts(text: str) -> datetime:
    """``YYYY-MM-DD HH:MM`` in UTC."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


INTRO = "Intro Call (30 min)"  # renamed at AS_OF from "Intro Call"
DEMO = "Demo"
WEBINAR = "Product Webinar"
LEGACY = "Legacy Consultation"  # event type deleted: name from the event

GOOGLE = ("google", "cpc", "brand_search")
LINKEDIN = ("linkedin", "paid_social", "q4_webinar")
FACEBOOK = ("facebook", "paid_social", "retargeting")
NEWSLETTER = ("newsletter", None, None)
UNTRACKED = (None, None, None)

NOT_CANCELED = {"canceled_at": None, "canceler_type": None, "cancel_reason": None,
                "cancel_lead_hours": None}  # fmt: skip


def _row(
    type_name: str, host: str, booked: str, start: str, reschedules: int, outcome: str,
    utm: tuple[str | None, str | None, str | None],
    cancel: tuple[str, str, str, float] | None = None,
) -> dict[str, object]:  # fmt: skip
    row: dict[str, object] = {
        "event_type_name": type_name,
        "host": host,
        "booked_at": ts(booked),
        "start_at": ts(start),
        "reschedule_count": reschedules,
        "outcome": outcome,
        "utm_source": utm[0],
        "utm_medium": utm[1],
        "utm_campaign": utm[2],
        "utm_content": None,
        "utm_term": None,
        **NOT_CANCELED,
    }
    if cancel:
        row.update(canceled_at=ts(cancel[0]), canceler_type=cancel[1], cancel_reason=cancel[2],
                   cancel_lead_hours=cancel[3])  # fmt: skip
    return row


# fct_bookings: one row per booking, keyed by the first invitee's email
BOOKINGS: dict[str, dict[str, object]] = {
    # B1: 11-10 -> 11-12 -> 12-01, held; the 2nd reschedule came through a Facebook link
    # under a new email: UTM is first touch (google), the email the final invitee's
    "resched-twice@example.com": {
        **_row(INTRO, "olivia", "2025-11-03 10:00", "2025-12-01 15:00", 2, "completed", GOOGLE),
        "final_email": "resched-twice-new@example.com",
    },
    # B2: 11-20 -> 11-25, canceled 11-21 09:00 = 4 d 7 h = 103 h before
    "resched-cancel@example.com": _row(DEMO, "max", "2025-11-03 11:00", "2025-11-25 16:00",
                                       1, "canceled", LINKEDIN,
                                       cancel=("2025-11-21 09:00", "invitee",
                                               "Something came up", 103.0)),
    # B3: 11-14 -> 11-18, no-show
    "resched-noshow@example.com": _row(INTRO, "olivia", "2025-11-04 10:00", "2025-11-18 15:00",
                                       1, "no_show", GOOGLE),
    # B4: host cancel 12-01 10:00 for 12-10 14:00 = 9 d 4 h = 220 h
    "host-cancel@example.com": _row(DEMO, "max", "2025-11-05 09:00", "2025-12-10 14:00",
                                    0, "canceled", UNTRACKED,
                                    cancel=("2025-12-01 10:00", "host", "Host unavailable",
                                            220.0)),
    # B5: invitee cancel 12-05 15:00 for 12-15 15:00 = 240 h
    "invitee-cancel@example.com": _row(INTRO, "olivia", "2025-11-05 11:00", "2025-12-15 15:00",
                                       0, "canceled", LINKEDIN,
                                       cancel=("2025-12-05 15:00", "invitee",
                                               "Schedule conflict", 240.0)),
    # B6: exactly 24 h -> not late
    "cancel-24h@example.com": _row(DEMO, "max", "2025-11-06 09:00", "2025-12-18 16:00",
                                   0, "canceled", UNTRACKED,
                                   cancel=("2025-12-17 16:00", "invitee", "Travel", 24.0)),
    # B7: 23 h 59 min -> late
    "cancel-under-24h@example.com": _row(INTRO, "olivia", "2025-11-06 11:00",
                                         "2025-12-19 15:00", 0, "canceled", UNTRACKED,
                                         cancel=("2025-12-18 15:01", "invitee",
                                                 "Feeling unwell", 23 + 59 / 60)),
    # B8-B10: one webinar, group-b cancels 12-09 10:00 for 12-11 17:00 = 55 h
    "group-a@example.com": _row(WEBINAR, "olivia", "2025-11-10 12:00", "2025-12-11 17:00",
                                0, "completed", GOOGLE),
    "group-b@example.com": _row(WEBINAR, "olivia", "2025-11-11 12:00", "2025-12-11 17:00",
                                0, "canceled", UNTRACKED,
                                cancel=("2025-12-09 10:00", "invitee", "Cannot attend", 55.0)),
    "group-c@example.com": _row(WEBINAR, "olivia", "2025-11-12 12:00", "2025-12-11 17:00",
                                0, "completed", LINKEDIN),
    # B11: no-show marked then unmarked -> completed
    "untracked@example.com": _row(INTRO, "olivia", "2025-11-15 10:00", "2025-11-20 15:00",
                                  0, "completed", UNTRACKED),
    # B12: starts exactly at AS_OF -> completed
    "at-asof@example.com": _row(DEMO, "max", "2025-12-20 10:00", "2026-01-15 12:00",
                                0, "completed", GOOGLE),
    # B13: rescheduled to an invitee that is gone -> upcoming, meeting = the old event
    "resched-lost@example.com": _row(INTRO, "olivia", "2025-12-01 09:00", "2025-12-22 15:00",
                                     1, "upcoming", UNTRACKED),
    # B14: after AS_OF
    "future-booking@example.com": _row(DEMO, "max", "2026-01-10 10:00", "2026-02-05 15:00",
                                       0, "upcoming", FACEBOOK),
    # B15: utm_source only
    "partial-utm@example.com": _row(DEMO, "max", "2025-11-08 10:00", "2025-11-12 16:00",
                                    0, "completed", NEWSLETTER),
    # B16: event type no longer listed
    "legacy-type@example.com": _row(LEGACY, "max", "2025-11-08 11:00", "2025-11-13 15:00",
                                    0, "completed", UNTRACKED),
}  # fmt: skip

# metrics_utm_attribution, keyed by (utm_source, utm_medium, utm_campaign)
# values: bookings, completed, no_shows, canceled, upcoming, rescheduled_bookings,
#         show_rate, no_show_rate, cancellation_rate
UTM_ATTRIBUTION: dict[tuple[str, str, str], tuple[object, ...]] = {
    # B1 completed, B3 no-show, B8 completed, B12 completed; B1, B3 rescheduled
    ("google", "cpc", "brand_search"): (4, 3, 1, 0, 0, 2, 0.75, 0.25, 0.0),
    # B2 canceled, B5 canceled, B10 completed; B2 rescheduled
    ("linkedin", "paid_social", "q4_webinar"): (3, 1, 0, 2, 0, 1, 1.0, 0.0, 2 / 3),
    # B14 upcoming only: nothing held -> null show/no-show rates
    ("facebook", "paid_social", "retargeting"): (1, 0, 0, 0, 1, 0, None, None, 0.0),
    # B15
    ("newsletter", "(none)", "(none)"): (1, 1, 0, 0, 0, 0, 1.0, 0.0, 0.0),
    # B4, B6, B7, B9 canceled; B11, B16 completed; B13 upcoming (rescheduled)
    ("(none)", "(none)", "(none)"): (7, 2, 0, 4, 1, 1, 1.0, 0.0, 4 / 7),
}  # fmt: skip
UTM_COLUMNS = (
    "bookings", "completed", "no_shows", "canceled", "upcoming", "rescheduled_bookings",
    "show_rate", "no_show_rate", "cancellation_rate",
)  # fmt: skip

NOV, DEC, JAN, FEB = date(2025, 11, 1), date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1)

# metrics_no_shows, keyed by (month, event_type_name): held, no_shows, no_show_rate
NO_SHOWS: dict[tuple[date, str], tuple[object, ...]] = {
    (NOV, DEMO): (1, 0, 0.0),  # B15 held; B2 canceled
    (NOV, INTRO): (2, 1, 0.5),  # B3 no-show, B11 completed
    (NOV, LEGACY): (1, 0, 0.0),  # B16
    (DEC, DEMO): (0, 0, None),  # B4, B6 canceled: nothing held
    (DEC, INTRO): (1, 0, 0.0),  # B1 held; B5, B7 canceled; B13 upcoming
    (DEC, WEBINAR): (2, 0, 0.0),  # B8, B10 held; B9 canceled
    (JAN, DEMO): (1, 0, 0.0),  # B12 at AS_OF
    (FEB, DEMO): (0, 0, None),  # B14 upcoming
}
NO_SHOW_COLUMNS = ("held", "no_shows", "no_show_rate")

# metrics_cancellations, keyed by (month, event_type_name)
# values: bookings, canceled, canceled_by_host, canceled_by_invitee, rescheduled_bookings,
#         late_cancellations, cancellation_rate, reschedule_rate, median_cancel_lead_hours
CANCELLATIONS: dict[tuple[date, str], tuple[object, ...]] = {
    (NOV, DEMO): (2, 1, 0, 1, 1, 0, 0.5, 0.5, 103.0),  # B2 (103 h), B15
    (NOV, INTRO): (2, 0, 0, 0, 1, 0, 0.0, 0.5, None),  # B3 (rescheduled), B11
    (NOV, LEGACY): (1, 0, 0, 0, 0, 0, 0.0, 0.0, None),  # B16
    (DEC, DEMO): (2, 2, 1, 1, 0, 0, 1.0, 0.0, (220.0 + 24.0) / 2),  # B4 host, B6 24 h
    # B1 (2 reschedules), B5 (240 h), B7 (23 h 59 min, late), B13 (rescheduled)
    (DEC, INTRO): (4, 2, 0, 2, 2, 1, 0.5, 0.5, (240.0 + 23 + 59 / 60) / 2),
    (DEC, WEBINAR): (3, 1, 0, 1, 0, 0, 1 / 3, 0.0, 55.0),  # B9 canceled 55 h before
    (JAN, DEMO): (1, 0, 0, 0, 0, 0, 0.0, 0.0, None),  # B12
    (FEB, DEMO): (1, 0, 0, 0, 0, 0, 0.0, 0.0, None),  # B14
}
CANCELLATION_COLUMNS = ("bookings", "canceled", "canceled_by_host", "canceled_by_invitee",
                        "rescheduled_bookings", "late_cancellations", "cancellation_rate",
                        "reschedule_rate", "median_cancel_lead_hours")  # fmt: skip

# ---- issue 12 marts, counted by hand from the scenario ---------------------------------
# Lead hours (booked_at -> final start, from BOOKINGS above), worked out day by day:
#   B1 11-03 10:00 -> 12-01 15:00 = 28 d 5 h = 677    B2 11-03 11:00 -> 11-25 16:00 = 533
#   B3 11-04 10:00 -> 11-18 15:00 = 14 d 5 h = 341    B4 11-05 09:00 -> 12-10 14:00 = 845
#   B5 11-05 11:00 -> 12-15 15:00 = 40 d 4 h = 964    B6 11-06 09:00 -> 12-18 16:00 = 1015
#   B7 11-06 11:00 -> 12-19 15:00 = 43 d 4 h = 1036   B8 11-10 12:00 -> 12-11 17:00 = 749
#   B9 11-11 12:00 -> 12-11 17:00 = 30 d 5 h = 725    B10 11-12 12:00 -> 12-11 17:00 = 701
#   B11 11-15 10:00 -> 11-20 15:00 = 5 d 5 h = 125    B12 12-20 10:00 -> 01-15 12:00 = 626
#   B13 12-01 09:00 -> 12-22 15:00 = 21 d 6 h = 510   B14 01-10 10:00 -> 02-05 15:00 = 629
#   B15 11-08 10:00 -> 11-12 16:00 = 4 d 6 h = 102    B16 11-08 11:00 -> 11-13 15:00 = 124
# Nothing is booked within 24 h; B11, B15, B16 within 7 days (<= 168 h).
# Percentiles interpolate as percentile_cont: position p * (n - 1) in the sorted list.


# metrics_hosts by host: bookings, held, completed, no_shows, canceled, canceled_by_host,
# canceled_by_invitee, upcoming, rescheduled_bookings, no_show_rate, cancellation_rate,
# host_cancellation_rate, invitee_cancellation_rate, reschedule_rate
HOSTS: dict[str, tuple[object, ...]] = {
    # B1, B8, B10, B11 completed; B3 no-show; B5, B7, B9 canceled by the invitee; B13 upcoming;
    # B1, B3, B13 rescheduled
    "olivia": (9, 5, 4, 1, 3, 0, 3, 1, 3, 1 / 5, 3 / 9, 0.0, 3 / 9, 3 / 9),
    # B12, B15, B16 completed; B4 canceled by the host; B2, B6 by the invitee; B14 upcoming;
    # B2 rescheduled
    "max": (7, 3, 3, 0, 3, 1, 2, 1, 1, 0.0, 3 / 7, 1 / 7, 2 / 7, 1 / 7),
}
HOST_COLUMNS = ("bookings", "held", "completed", "no_shows", "canceled", "canceled_by_host",
                "canceled_by_invitee", "upcoming", "rescheduled_bookings", "no_show_rate",
                "cancellation_rate", "host_cancellation_rate", "invitee_cancellation_rate",
                "reschedule_rate")  # fmt: skip
HOST_NAMES = {"olivia": ("Olivia Owner", "olivia-owner@acme.example"),
              "max": ("Max Member", "max-member@acme.example")}  # fmt: skip

ALL = "(all)"
NONE = "(none)"
# metrics_lead_time by (event_type_name, utm_source): bookings, median_lead_hours,
# p90_lead_hours, booked_within_24h, booked_within_7d, share_within_24h, share_within_7d
LEAD_TIME: dict[tuple[str, str], tuple[object, ...]] = {
    (INTRO, "google"): (2, (341 + 677) / 2, 341 + 0.9 * 336, 0, 0, 0.0, 0.0),  # B3, B1
    (INTRO, "linkedin"): (1, 964.0, 964.0, 0, 0, 0.0, 0.0),  # B5
    (INTRO, NONE): (3, 510.0, 510 + 0.8 * 526, 0, 1, 0.0, 1 / 3),  # B11 125, B13 510, B7 1036
    # 125 341 510 677 964 1036: median between 510 and 677, p90 at 4.5 (964..1036)
    (INTRO, ALL): (6, (510 + 677) / 2, 964 + 0.5 * 72, 0, 1, 0.0, 1 / 6),
    (DEMO, "linkedin"): (1, 533.0, 533.0, 0, 0, 0.0, 0.0),  # B2
    (DEMO, NONE): (2, (845 + 1015) / 2, 845 + 0.9 * 170, 0, 0, 0.0, 0.0),  # B4, B6
    (DEMO, "google"): (1, 626.0, 626.0, 0, 0, 0.0, 0.0),  # B12
    (DEMO, "facebook"): (1, 629.0, 629.0, 0, 0, 0.0, 0.0),  # B14
    (DEMO, "newsletter"): (1, 102.0, 102.0, 0, 1, 0.0, 1.0),  # B15
    # 102 533 626 629 845 1015
    (DEMO, ALL): (6, (626 + 629) / 2, 845 + 0.5 * 170, 0, 1, 0.0, 1 / 6),
    (WEBINAR, "google"): (1, 749.0, 749.0, 0, 0, 0.0, 0.0),  # B8
    (WEBINAR, NONE): (1, 725.0, 725.0, 0, 0, 0.0, 0.0),  # B9
    (WEBINAR, "linkedin"): (1, 701.0, 701.0, 0, 0, 0.0, 0.0),  # B10
    (WEBINAR, ALL): (3, 725.0, 725 + 0.8 * 24, 0, 0, 0.0, 0.0),  # 701 725 749
    (LEGACY, NONE): (1, 124.0, 124.0, 0, 1, 0.0, 1.0),  # B16
    (LEGACY, ALL): (1, 124.0, 124.0, 0, 1, 0.0, 1.0),
    # B3 341, B12 626, B1 677, B8 749
    (ALL, "google"): (4, (626 + 677) / 2, 677 + 0.7 * 72, 0, 0, 0.0, 0.0),
    (ALL, "linkedin"): (3, 701.0, 701 + 0.8 * 263, 0, 0, 0.0, 0.0),  # B2 533, B10 701, B5 964
    # B16 124, B11 125, B13 510, B9 725, B4 845, B6 1015, B7 1036
    (ALL, NONE): (7, 725.0, 1015 + 0.4 * 21, 0, 2, 0.0, 2 / 7),
    (ALL, "facebook"): (1, 629.0, 629.0, 0, 0, 0.0, 0.0),  # B14
    (ALL, "newsletter"): (1, 102.0, 102.0, 0, 1, 0.0, 1.0),  # B15
    # all 16 sorted: 102 124 125 341 510 533 626 629 | 677 701 725 749 845 964 1015 1036
    (ALL, ALL): (16, (629 + 677) / 2, 964 + 0.5 * 51, 0, 3, 0.0, 3 / 16),
}
LEAD_TIME_COLUMNS = ("bookings", "median_lead_hours", "p90_lead_hours", "booked_within_24h",
                     "booked_within_7d", "share_within_24h", "share_within_7d")  # fmt: skip

MON, TUE, WED, THU, FRI = 1, 2, 3, 4, 5
# metrics_popular_times by (ISO weekday, local hour): bookings, held, no_shows, no_show_rate,
# utc_fallback_bookings. Olivia's meetings in Berlin (UTC+1), Max's in New York (UTC-5);
# weekdays from the calendar (2025-11-03 and 2025-12-01 are Mondays, 2026-01-01 a Thursday).
POPULAR_TIMES: dict[tuple[int, int], tuple[object, ...]] = {
    (MON, 16): (3, 1, 0, 0.0, 0),  # Olivia 15:00 UTC: B1 12-01 held, B5 12-15, B13 12-22
    (TUE, 16): (1, 1, 1, 1.0, 0),  # B3 11-18 no-show
    (THU, 16): (1, 1, 0, 0.0, 0),  # B11 11-20
    (FRI, 16): (1, 0, 0, None, 0),  # B7 12-19 canceled
    (THU, 18): (3, 2, 0, 0.0, 0),  # the webinar 12-11 17:00 UTC: B8, B10 held, B9 canceled
    (TUE, 11): (1, 0, 0, None, 0),  # Max: B2 11-25 16:00 UTC canceled
    (WED, 9): (1, 0, 0, None, 0),  # B4 12-10 14:00 UTC canceled
    (WED, 11): (1, 1, 0, 0.0, 0),  # B15 11-12 16:00 UTC
    (THU, 11): (1, 0, 0, None, 0),  # B6 12-18 16:00 UTC canceled
    (THU, 7): (1, 1, 0, 0.0, 0),  # B12 2026-01-15 12:00 UTC
    (THU, 10): (2, 1, 0, 0.0, 0),  # B16 11-13 15:00 UTC held, B14 2026-02-05 upcoming
}
POPULAR_TIME_COLUMNS = ("bookings", "held", "no_shows", "no_show_rate", "utc_fallback_bookings")

# metrics_routing_funnel by (question, answer) of the one form "Lead Form":
# submissions, booked, held, no_shows, booking_rate, held_rate, submission_to_held_rate,
# no_show_rate. S1 -> B3 (no-show), S2 -> B5 (canceled), S3 -> B12 (completed), S4 no booking.
ROUTING_FORM_NAME = "Lead Form"
ROUTING_FUNNEL: dict[tuple[str, str], tuple[object, ...]] = {
    (ALL, ALL): (4, 3, 2, 1, 3 / 4, 2 / 3, 2 / 4, 1 / 2),
    ("Team size?", "1-10"): (2, 2, 2, 1, 1.0, 1.0, 1.0, 1 / 2),  # S1, S3
    ("Team size?", "11-50"): (2, 1, 0, 0, 1 / 2, 0.0, 0.0, None),  # S2, S4
    # the Email question is free text: not broken down
}
ROUTING_FUNNEL_COLUMNS = ("submissions", "booked", "held", "no_shows", "booking_rate",
                          "held_rate", "submission_to_held_rate", "no_show_rate")  # fmt: skip


def _week(text: str) -> date:
    return datetime.strptime(text, "%Y-%m-%d").date()


# metrics_weekly by (Monday of the UTC week of the final start, event_type_name):
# bookings, held, completed, no_shows, canceled, canceled_by_host, canceled_by_invitee,
# upcoming, rescheduled_bookings, no_show_rate, show_rate, cancellation_rate, reschedule_rate
WEEKLY: dict[tuple[date, str], tuple[object, ...]] = {
    (_week("2025-11-10"), DEMO): (1, 1, 1, 0, 0, 0, 0, 0, 0, 0.0, 1.0, 0.0, 0.0),  # B15 Wed 12th
    (_week("2025-11-10"), LEGACY): (1, 1, 1, 0, 0, 0, 0, 0, 0, 0.0, 1.0, 0.0, 0.0),  # B16 Thu
    # B3 (Tue 18th, no-show, rescheduled), B11 (Thu 20th)
    (_week("2025-11-17"), INTRO): (2, 2, 1, 1, 0, 0, 0, 0, 1, 0.5, 0.5, 0.0, 0.5),
    (_week("2025-11-24"), DEMO): (1, 0, 0, 0, 1, 0, 1, 0, 1, None, None, 1.0, 1.0),  # B2 Tue
    (_week("2025-12-01"), INTRO): (1, 1, 1, 0, 0, 0, 0, 0, 1, 0.0, 1.0, 0.0, 1.0),  # B1 Mon 1st
    (_week("2025-12-08"), DEMO): (1, 0, 0, 0, 1, 1, 0, 0, 0, None, None, 1.0, 0.0),  # B4 Wed
    # the webinar Thu 11th: B8, B10 held, B9 canceled
    (_week("2025-12-08"), WEBINAR): (3, 2, 2, 0, 1, 0, 1, 0, 0, 0.0, 1.0, 1 / 3, 0.0),
    # B5 Mon 15th, B7 Fri 19th, both canceled by the invitee
    (_week("2025-12-15"), INTRO): (2, 0, 0, 0, 2, 0, 2, 0, 0, None, None, 1.0, 0.0),
    (_week("2025-12-15"), DEMO): (1, 0, 0, 0, 1, 0, 1, 0, 0, None, None, 1.0, 0.0),  # B6 Thu
    (_week("2025-12-22"), INTRO): (1, 0, 0, 0, 0, 0, 0, 1, 1, None, None, 0.0, 1.0),  # B13 Mon
    (_week("2026-01-12"), DEMO): (1, 1, 1, 0, 0, 0, 0, 0, 0, 0.0, 1.0, 0.0, 0.0),  # B12 Thu 15th
    (_week("2026-02-02"), DEMO): (1, 0, 0, 0, 0, 0, 0, 1, 0, None, None, 0.0, 0.0),  # B14 Thu
}
WEEKLY_COLUMNS = ("bookings", "held", "completed", "no_shows", "canceled", "canceled_by_host",
                  "canceled_by_invitee", "upcoming", "rescheduled_bookings", "no_show_rate",
                  "show_rate", "cancellation_rate", "reschedule_rate")  # fmt: skip
