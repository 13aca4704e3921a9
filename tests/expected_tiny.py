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
