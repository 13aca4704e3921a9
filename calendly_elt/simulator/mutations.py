"""Operations that change a simulated organization the way Calendly does.

Each operation edits the API-shaped objects in the ``Store`` under its lock,
stamps ``updated_at`` only where Calendly does (a no-show mark does not touch
the invitee or the event), and tells the store's listeners with the webhook
event name and payload Calendly would send. Invalid requests raise
``SimulatorError`` with the status and body the real API would answer.

The generator builds an organization's whole history by replaying these same
operations with the clock set in the past, so generated data and mutation
behaviour cannot disagree.

Why this module is longer than most: it is the simulator's one statement of
how Calendly changes data (book, cancel, reschedule, mark no-shows, delete for
compliance), and those operations share the invariants they keep together -
counters, chains of reschedules, which timestamps move, which webhook fires.
Event type changes, which share none of them, are in ``event_type_mutations.py``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from calendly_elt.simulator.pagination import invalid_argument
from calendly_elt.simulator.store import (
    API_BASE,
    Resource,
    SimulatorError,
    Store,
    format_ts,
    invitee_uri,
    parse_ts,
    uri_of,
    uuid_of,
)

logger = logging.getLogger(__name__)

EMPTY_TRACKING: Resource = {
    "utm_campaign": None,
    "utm_source": None,
    "utm_medium": None,
    "utm_content": None,
    "utm_term": None,
    "salesforce_uuid": None,
}
"""All-null tracking (an untracked booking). Nested objects are shared between
resources to save memory: replace them, never edit them in place."""

GROUP_KIND = "group"


# ---- helpers ----------------------------------------------------------------


def _not_found(what: str) -> SimulatorError:
    return SimulatorError(404, "Resource Not Found", f"The {what} you requested does not exist.")


def _invalid(message: str, parameter: str) -> SimulatorError:
    """Calendly's 400: the standard message, the specific one in ``details``."""
    return invalid_argument(parameter, message)


def _get(collection: dict[str, Resource], uuid: str, what: str) -> Resource:
    resource = collection.get(uuid_of(uuid)) if uuid else None
    if resource is None:
        raise _not_found(what)
    return resource


def _notify_invitee(store: Store, event_name: str, invitee: Resource) -> None:
    """Emit an invitee webhook: the invitee with its scheduled event embedded."""
    if not store.listeners:
        return
    event = store.events.get(uuid_of(invitee["event"]))
    payload = {**invitee, "scheduled_event": dict(event) if event else None}
    store.notify(event_name, payload)


_PLACE_LOCATIONS: dict[str, str] = {
    "physical": "Calendly Office, 3rd floor",
    "outbound_call": "+1 404-555-0100",
    "inbound_call": "+1 404-555-0199",
    "custom": "We will send details by email",
    "ask_invitee": "Invitee's office",
}
_CONFERENCE_URLS: dict[str, str] = {
    "google_conference": "https://calendly.com/events/{uuid}/google_meet",
    "zoom_conference": "https://zoom.us/j/{short}",
    "zoom": "https://zoom.us/j/{short}",
    "microsoft_teams_conference": "https://teams.microsoft.com/l/meetup-join/{uuid}",
    "gotomeeting": "https://www.gotomeeting.com/join/{short}",
    "webex_conference": "https://acme.webex.com/acme/j.php?MTID={short}",
}
LOCATION_KINDS: tuple[str, ...] = (*_PLACE_LOCATIONS, *_CONFERENCE_URLS)
"""Every location ``type`` the simulator produces (``zoom`` is a newer real value)."""


def _location_for(event_uuid: str, kind: str | None) -> Resource | None:
    """The event ``location`` object for an event type's location kind (None: no location)."""
    if kind is None:
        return None
    if kind in _PLACE_LOCATIONS:
        return {"type": kind, "location": _PLACE_LOCATIONS[kind]}
    if kind in _CONFERENCE_URLS:
        if event_uuid.startswith("f"):  # ~1 in 16: the provider never created the meeting
            return {"type": kind, "status": "failed", "join_url": None, "data": None}
        url = _CONFERENCE_URLS[kind].format(uuid=event_uuid, short=event_uuid[:8])
        return {"type": kind, "status": "pushed", "join_url": url,
                "data": _conference_data(kind, event_uuid)}  # fmt: skip
    return {"type": kind, "location": None}


def _conference_data(kind: str, event_uuid: str) -> Resource | None:
    """The provider's metadata of a created conference, as the spec shapes it.

    Derived from the event uuid (no random draws), so seeds stay stable.
    """
    digits = str(int(event_uuid.replace("-", "")[:12], 16))[:10]
    if kind in ("zoom_conference", "zoom"):
        dial_in = {"number": "+1 6465588656", "country": "US", "type": "toll",
                   "city": "New York", "country_name": "US"}  # fmt: skip
        return {"id": digits, "settings": {"global_dial_in_numbers": [dial_in]},
                "extra": {"intl_numbers_url": "https://zoom.us/u/acme"},
                "password": digits[-6:]}  # fmt: skip
    if kind == "microsoft_teams_conference":
        audio = None if event_uuid[1] in "01234567" else {
            "conferenceId": digits, "dialinUrl": f"https://dialin.teams.microsoft.com/{digits}",
            "tollNumber": "+1 323-555-0166"}  # fmt: skip
        return {"id": event_uuid, "audioConferencing": audio}
    if kind == "webex_conference":
        number = {"label": "US Toll", "callInNumber": "14086380986", "tollType": "toll"}
        return {"id": digits, "telephony": {"callInNumbers": [number]}, "password": digits[:8]}
    if kind == "gotomeeting":
        call_in = "United States: +1 872 240 3311"
        return {"uniqueMeetingId": int(digits), "conferenceCallInfo": call_in}
    return None  # Google Meet: no metadata


def _membership_entry(user: Resource) -> Resource:
    return {"user": user["uri"], "user_email": user["email"], "user_name": user["name"]}


def _hosts_for_booking(
    store: Store, event_type_uuid: str, host_user_uuid: str | None
) -> list[Resource]:
    """Users hosting a new event: the owner, one round-robin pick, or the whole collective."""
    settings = store.event_type_settings.get(event_type_uuid, {})
    event_type = store.event_types[event_type_uuid]
    hosts = settings.get("hosts") or [uuid_of(event_type["profile"]["owner"])]
    if host_user_uuid is not None:
        if host_user_uuid not in store.users:
            raise _not_found("user")
        chosen = [host_user_uuid] + [h for h in hosts if h != host_user_uuid]
    elif event_type["pooling_type"] == "round_robin":
        chosen = [store.rng.choice(hosts)]
    else:
        chosen = list(hosts)
    if event_type["pooling_type"] != "collective":
        chosen = chosen[:1]
    return [store.users[uuid] for uuid in chosen]


def _new_event(
    store: Store, event_type_uuid: str, start_time: datetime, host_user_uuid: str | None
) -> Resource:
    """Create (and store) the scheduled event of a new booking."""
    event_type = store.event_types[event_type_uuid]
    settings = store.event_type_settings.get(event_type_uuid, {})
    uuid = store.new_uuid()
    hosts = _hosts_for_booking(store, event_type_uuid, host_user_uuid)
    now = format_ts(store.clock.now())
    event: Resource = {
        "uri": uri_of("scheduled_events", uuid),
        "name": event_type["name"],
        "meeting_notes_plain": None,
        "meeting_notes_html": None,
        "status": "active",
        "start_time": format_ts(start_time),
        "end_time": format_ts(start_time + timedelta(minutes=event_type["duration"])),
        "event_type": event_type["uri"],
        "location": _location_for(uuid, settings.get("location_kind")),
        "invitees_counter": {
            "total": 0,
            "active": 0,
            "limit": settings.get("invitee_limit", 1),
        },
        "created_at": now,
        "updated_at": now,
        "event_memberships": [_membership_entry(host) for host in hosts],
        "event_guests": [],
        "calendar_event": {"kind": "google", "external_id": uuid.replace("-", "")[:26]},
    }
    store.add_event(event)
    return event


def _existing_group_event(store: Store, event_uuid: str, start_time: datetime) -> Resource:
    event = _get(store.events, event_uuid, "scheduled event")
    counter = event["invitees_counter"]
    if event["status"] != "active":
        raise _invalid("The event is canceled and cannot take new invitees.", "event")
    if event["start_time"] != format_ts(start_time):
        raise _invalid("start_time does not match the event's start time.", "start_time")
    if counter["active"] >= counter["limit"]:
        raise _invalid("The event is full.", "event")
    return event


def _bump_counter(event: Resource, total: int, active: int) -> None:
    counter = event["invitees_counter"]
    event["invitees_counter"] = {
        "total": counter["total"] + total,
        "active": counter["active"] + active,
        "limit": counter["limit"],
    }


def _split_name(name: str) -> tuple[str | None, str | None]:
    first, _, last = name.partition(" ")
    return (first, last) if last else (None, None)


def _new_invitee(store: Store, event: Resource, email: str, name: str, **fields: Any) -> Resource:
    """Create (and store) an active invitee on ``event``."""
    uuid = store.new_uuid()
    now = format_ts(store.clock.now())
    first_name, last_name = _split_name(name) if fields.pop("split_name", False) else (None, None)
    invitee: Resource = {
        "uri": invitee_uri(uuid_of(event["uri"]), uuid),
        "email": email,
        "first_name": first_name,
        "last_name": last_name,
        "name": name,
        "status": "active",
        "questions_and_answers": fields.get("questions_and_answers") or [],
        "timezone": fields.get("timezone"),
        "event": event["uri"],
        "created_at": now,
        "updated_at": now,
        "tracking": fields.get("tracking") or EMPTY_TRACKING,
        "text_reminder_number": fields.get("text_reminder_number"),
        "rescheduled": False,
        "old_invitee": fields.get("old_invitee"),
        "new_invitee": None,
        "cancel_url": f"https://calendly.com/cancellations/{uuid}",
        "reschedule_url": f"https://calendly.com/reschedulings/{uuid}",
        "routing_form_submission": fields.get("routing_form_submission"),
        "payment": fields.get("payment"),
        "no_show": None,
        "reconfirmation": None,
        "scheduling_method": fields.get("scheduling_method"),
        "invitee_scheduled_by": fields.get("invitee_scheduled_by"),
    }
    store.add_invitee(invitee)
    _bump_counter(event, total=1, active=1)
    event["updated_at"] = now
    return invitee


def _full_tracking(tracking: dict[str, Any] | None) -> Resource:
    if not tracking or all(value is None for value in tracking.values()):
        return EMPTY_TRACKING
    return {key: tracking.get(key) for key in EMPTY_TRACKING}


def _link_submission(store: Store, submission_ref: str | None, invitee: Resource) -> str | None:
    if not submission_ref:
        return None
    submission = _get(store.routing_form_submissions, submission_ref, "routing form submission")
    submission["submitter"] = invitee["uri"]
    submission["submitter_type"] = "Invitee"
    submission["updated_at"] = invitee["created_at"]
    return submission["uri"]


# ---- bookings -----------------------------------------------------------------


def book(
    store: Store,
    *,
    event_type_uuid: str,
    start_time: datetime,
    email: str,
    name: str,
    tracking: dict[str, Any] | None = None,
    questions_and_answers: list[Resource] | None = None,
    event_uuid: str | None = None,
    routing_form_submission: str | None = None,
    host_user_uuid: str | None = None,
    **extra: Any,
) -> Resource:
    """An invitee books ``event_type_uuid`` at ``start_time`` (``invitee.created``).

    Args:
        store: The organization.
        event_type_uuid: The event type booked (must exist and be active).
        start_time: Meeting start (aware); must be in the simulated future.
        email: Invitee email.
        name: Invitee full name.
        tracking: UTM/Salesforce tracking; missing keys are null.
        questions_and_answers: Answers to the event type's custom questions.
        event_uuid: Join this existing group event instead of creating a new event.
        routing_form_submission: uuid or URI of the submission that led here.
        host_user_uuid: Force the (first) host instead of the round-robin pick.
        **extra: Further invitee fields (``timezone``, ``text_reminder_number``,
            ``payment``, ``scheduling_method``, ``invitee_scheduled_by``,
            ``split_name``, ``old_invitee``).

    Returns:
        The new invitee object (as stored).
    """
    with store.lock:
        event_type = _get(store.event_types, event_type_uuid, "event type")
        if not event_type["active"]:
            raise _invalid("The event type is not active.", "event_type")
        if start_time <= store.clock.now():
            raise _invalid("start_time must be in the future.", "start_time")
        if event_uuid is not None:
            event = _existing_group_event(store, event_uuid, start_time)
        else:
            event = _new_event(store, uuid_of(event_type["uri"]), start_time, host_user_uuid)
        invitee = _new_invitee(
            store,
            event,
            email,
            name,
            tracking=_full_tracking(tracking),
            questions_and_answers=questions_and_answers,
            **extra,
        )
        invitee["routing_form_submission"] = _link_submission(
            store, routing_form_submission, invitee
        )
        _notify_invitee(store, "invitee.created", invitee)
        return invitee


def _cancellation(canceled_by: str, reason: str, canceler_type: str, now: str) -> Resource:
    return {
        "canceled_by": canceled_by,
        "reason": reason,
        "canceler_type": canceler_type,
        "created_at": now,
    }


def _active_invitee(store: Store, invitee_uuid: str) -> Resource:
    invitee = _get(store.invitees, invitee_uuid, "invitee")
    if invitee["status"] != "active":
        raise _invalid("The invitee is already canceled.", "invitee")
    return invitee


def _require_not_started(store: Store, event: Resource) -> None:
    if parse_ts(event["start_time"]) <= store.clock.now():
        raise _invalid("The event has already started.", "event")


def _cancel_one_invitee(invitee: Resource, cancellation: Resource, event: Resource) -> None:
    invitee["status"] = "canceled"
    invitee["cancellation"] = cancellation
    invitee["updated_at"] = cancellation["created_at"]
    _bump_counter(event, total=0, active=-1)
    event["updated_at"] = cancellation["created_at"]


def _cancel_event_if_empty(store: Store, event: Resource, cancellation: Resource) -> None:
    """A one-on-one event is canceled with its last active invitee; group slots stay open."""
    event_type = store.event_types.get(uuid_of(event["event_type"]))
    is_group = event["invitees_counter"]["limit"] > 1 or (
        event_type is not None and event_type["kind"] == GROUP_KIND
    )
    if event["invitees_counter"]["active"] == 0 and not is_group:
        event["status"] = "canceled"
        event["cancellation"] = cancellation


def cancel_invitee(
    store: Store, invitee_uuid: str, *, reason: str = "", canceled_by: str | None = None
) -> Resource:
    """The invitee cancels their booking (``invitee.canceled``, canceler_type ``invitee``).

    Args:
        store: The organization.
        invitee_uuid: The invitee (must be active, meeting not started).
        reason: The cancellation reason typed by the invitee.
        canceled_by: Name shown as canceler (default: the invitee's name).

    Returns:
        The canceled invitee object.
    """
    with store.lock:
        invitee = _active_invitee(store, invitee_uuid)
        event = store.events[uuid_of(invitee["event"])]
        _require_not_started(store, event)
        now = format_ts(store.clock.now())
        cancellation = _cancellation(canceled_by or invitee["name"], reason, "invitee", now)
        _cancel_one_invitee(invitee, cancellation, event)
        _cancel_event_if_empty(store, event, cancellation)
        _notify_invitee(store, "invitee.canceled", invitee)
        return invitee


def cancel_event(
    store: Store, event_uuid: str, *, reason: str = "", canceled_by_user_uuid: str | None = None
) -> Resource:
    """A host cancels a scheduled event and with it every active invitee.

    Args:
        store: The organization.
        event_uuid: The event (must be active and not started).
        reason: The reason the host gave.
        canceled_by_user_uuid: The canceling user (default: the event's first host).

    Returns:
        The Cancellation object set on the event and its invitees.
    """
    with store.lock:
        event = _get(store.events, event_uuid, "scheduled event")
        if event["status"] != "active":
            raise _invalid("The event is already canceled.", "event")
        _require_not_started(store, event)
        host_uuid = canceled_by_user_uuid or uuid_of(event["event_memberships"][0]["user"])
        host = _get(store.users, host_uuid, "user")
        now = format_ts(store.clock.now())
        cancellation = _cancellation(host["name"], reason, "host", now)
        canceled = [i for i in store.invitees_of(uuid_of(event["uri"])) if i["status"] == "active"]
        for invitee in canceled:
            _cancel_one_invitee(invitee, cancellation, event)
        event["status"] = "canceled"
        event["cancellation"] = cancellation
        event["updated_at"] = now
        for invitee in canceled:
            _notify_invitee(store, "invitee.canceled", invitee)
        return cancellation


def reschedule(
    store: Store,
    invitee_uuid: str,
    *,
    new_start_time: datetime,
    email: str | None = None,
    name: str | None = None,
    tracking: dict[str, Any] | None = None,
) -> Resource:
    """The invitee moves their booking to ``new_start_time`` on a new event.

    The old invitee becomes canceled with ``rescheduled = true`` and
    ``new_invitee`` set (cancellation by the invitee); the new invitee, on a
    new event of the same event type and host, has ``old_invitee`` set.
    Webhooks: ``invitee.canceled`` (old) then ``invitee.created`` (new).

    Args:
        store: The organization.
        invitee_uuid: The active invitee who reschedules.
        new_start_time: The new meeting start (in the simulated future).
        email: The email typed on the reschedule form (default: unchanged).
        name: The name typed on the reschedule form (default: unchanged).
        tracking: The tracking of the link the reschedule came through
            (default: the old invitee's; ``{}`` for an untracked link).

    Returns:
        The new invitee object.
    """
    with store.lock:
        old = _active_invitee(store, invitee_uuid)
        old_event = store.events[uuid_of(old["event"])]
        _require_not_started(store, old_event)
        if new_start_time <= store.clock.now():
            raise _invalid("new_start_time must be in the future.", "new_start_time")
        event_type_uuid = uuid_of(old_event["event_type"])
        if event_type_uuid not in store.event_types:
            raise _not_found("event type")
        new_event = _new_event(
            store,
            event_type_uuid,
            new_start_time,
            uuid_of(old_event["event_memberships"][0]["user"]),
        )
        new = _new_invitee(
            store,
            new_event,
            email or old["email"],
            name or old["name"],
            tracking=old["tracking"] if tracking is None else _full_tracking(tracking),
            questions_and_answers=old["questions_and_answers"],
            timezone=old["timezone"],
            text_reminder_number=old["text_reminder_number"],
            payment=old["payment"],
            routing_form_submission=old["routing_form_submission"],
            scheduling_method=old.get("scheduling_method"),
            old_invitee=old["uri"],
        )
        if name is None:
            new["first_name"], new["last_name"] = old["first_name"], old["last_name"]
        now = format_ts(store.clock.now())
        cancellation = _cancellation(old["name"], "Rescheduled", "invitee", now)
        _cancel_one_invitee(old, cancellation, old_event)
        old["rescheduled"] = True
        old["new_invitee"] = new["uri"]
        _cancel_event_if_empty(store, old_event, cancellation)
        _notify_invitee(store, "invitee.canceled", old)
        _notify_invitee(store, "invitee.created", new)
        return new


# ---- no-shows ------------------------------------------------------------------


def mark_no_show(store: Store, invitee_uuid: str) -> Resource:
    """Mark an invitee of a meeting that already started as a no-show.

    Neither the invitee's nor the event's ``updated_at`` changes (as in Calendly).

    Args:
        store: The organization.
        invitee_uuid: The invitee (active, meeting started, not yet marked).

    Returns:
        The InviteeNoShow resource.
    """
    with store.lock:
        invitee = _active_invitee(store, invitee_uuid)
        event = store.events[uuid_of(invitee["event"])]
        if parse_ts(event["start_time"]) > store.clock.now():
            raise _invalid("The meeting has not started yet.", "invitee")
        if invitee["no_show"] is not None:
            raise _invalid("The invitee is already marked as a no-show.", "invitee")
        uuid = store.new_uuid()
        no_show = {
            "uri": f"{API_BASE}/invitee_no_shows/{uuid}",
            "invitee": invitee["uri"],
            "created_at": format_ts(store.clock.now()),
        }
        store.no_shows[uuid] = no_show
        store.no_show_of_invitee[uuid_of(invitee["uri"])] = uuid
        invitee["no_show"] = {"uri": no_show["uri"], "created_at": no_show["created_at"]}
        _notify_invitee(store, "invitee_no_show.created", invitee)
        return no_show


def unmark_no_show(store: Store, no_show_uuid: str) -> None:
    """Undo a no-show mark (no ``updated_at`` change either).

    Args:
        store: The organization.
        no_show_uuid: The InviteeNoShow's uuid (or URI).
    """
    with store.lock:
        no_show = _get(store.no_shows, no_show_uuid, "invitee no show")
        del store.no_shows[uuid_of(no_show["uri"])]
        invitee_uuid = uuid_of(no_show["invitee"])
        store.no_show_of_invitee.pop(invitee_uuid, None)
        invitee = store.invitees.get(invitee_uuid)
        if invitee is not None:
            invitee["no_show"] = None
            _notify_invitee(store, "invitee_no_show.deleted", invitee)


# ---- routing forms and data compliance ------------------------------------------


def submit_routing_form(
    store: Store,
    routing_form_uuid: str,
    *,
    questions_and_answers: list[Resource],
    tracking: dict[str, Any] | None = None,
    result: Resource | None = None,
) -> Resource:
    """Someone submits a routing form (``routing_form_submission.created``).

    Args:
        store: The organization.
        routing_form_uuid: The form submitted.
        questions_and_answers: ``{question_uuid, question, answer}`` entries.
        tracking: UTM tracking of the visit.
        result: Where the form routed (``{"type": "event_type", "value": uri}`` ...).

    Returns:
        The new submission (``submitter`` null until a booking links it).
    """
    with store.lock:
        form = _get(store.routing_forms, routing_form_uuid, "routing form")
        uuid = store.new_uuid()
        now = format_ts(store.clock.now())
        submission: Resource = {
            "uri": uri_of("routing_form_submissions", uuid),
            "routing_form": form["uri"],
            "questions_and_answers": questions_and_answers,
            "tracking": _full_tracking(tracking),
            "result": result,
            "submitter": None,
            "submitter_type": None,
            "created_at": now,
            "updated_at": now,
        }
        store.routing_form_submissions[uuid] = submission
        if store.listeners:
            store.notify("routing_form_submission.created", dict(submission))
        return submission


def delete_invitee_data(store: Store, emails: list[str]) -> int:
    """Data-compliance deletion: remove every invitee with one of ``emails``.

    Events left without any invitee are removed too; the counters of the
    others drop. Links from other invitees (``old_invitee``/``new_invitee``)
    keep pointing at the removed URIs, as in Calendly. No webhook is sent.

    Args:
        store: The organization.
        emails: Email addresses (case-insensitive).

    Returns:
        The number of invitees removed.
    """
    wanted = {email.strip().lower() for email in emails}
    with store.lock:
        doomed = [u for u, inv in store.invitees.items() if inv["email"].lower() in wanted]
        for uuid in doomed:
            _remove_invitee_and_marks(store, uuid)
        logger.info("data-compliance deletion removed %d invitees", len(doomed))
        return len(doomed)


def _remove_invitee_and_marks(store: Store, uuid: str) -> None:
    invitee = store.invitees[uuid]
    event_uuid = uuid_of(invitee["event"])
    store.remove_invitee(uuid)
    no_show_uuid = store.no_show_of_invitee.pop(uuid, None)
    if no_show_uuid:
        store.no_shows.pop(no_show_uuid, None)
    event = store.events.get(event_uuid)
    if event is None:
        return
    if not store.invitees_by_event.get(event_uuid):
        store.remove_event(event_uuid)
        return
    _bump_counter(event, total=-1, active=-1 if invitee["status"] == "active" else 0)
