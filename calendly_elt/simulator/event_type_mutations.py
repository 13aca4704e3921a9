"""Changes to event types, each announced as Calendly's ``event_type.*`` webhook.

Calendly sends ``event_type.created``, ``event_type.updated`` and
``event_type.deleted`` (since 2026-10-23) with the event type resource as the
``payload``. ``create_event_type``, ``update_event_type`` and
``delete_event_type`` edit the store under its lock, stamp ``updated_at`` and
notify the store's listeners (the webhook dispatcher) the same way the
booking mutations in ``mutations`` do. A deleted event type keeps its record
(bookings still point at it) with ``deleted_at`` set and ``active`` false.
"""

from __future__ import annotations

from typing import Any

from calendly_elt.simulator.store import Resource, SimulatorError, Store, format_ts, uri_of

EDITABLE_FIELDS = (
    "name",
    "active",
    "duration",
    "color",
    "slug",
    "secret",
    "internal_note",
    "description_plain",
    "description_html",
)


def create_event_type(store: Store, owner_uuid: str, name: str, *, duration: int = 30) -> Resource:
    """A user creates a one-on-one event type (``event_type.created``).

    Args:
        store: The organization.
        owner_uuid: The uuid of the user who owns the new event type.
        name: Its name.
        duration: Its length in minutes.

    Returns:
        The new event type resource.

    Raises:
        SimulatorError: 404 when the owner is not a user of the organization.
    """
    with store.lock:
        owner = store.users.get(owner_uuid)
        if owner is None:
            raise SimulatorError(404, "Resource Not Found", "The user was not found.")
        uuid = store.new_uuid()
        resource = _event_type_resource(uuid, owner, name, duration, format_ts(store.clock.now()))
        store.event_types[uuid] = resource
        store.event_type_settings[uuid] = {"hosts": [owner_uuid], "invitee_limit": 1}
        store.notify("event_type.created", dict(resource))
        return resource


def update_event_type(store: Store, uuid: str, **changes: Any) -> Resource:
    """The owner edits an event type (``event_type.updated``).

    Args:
        store: The organization.
        uuid: The event type's uuid.
        **changes: New values of fields in ``EDITABLE_FIELDS``.

    Returns:
        The updated event type resource.

    Raises:
        SimulatorError: 404 for an unknown or deleted event type, 400 for a
            field that cannot be edited.
    """
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise SimulatorError(400, "Invalid Argument", f"cannot edit {', '.join(unknown)}")
    with store.lock:
        resource = _live_event_type(store, uuid)
        resource.update(changes)
        resource["updated_at"] = format_ts(store.clock.now())
        store.notify("event_type.updated", dict(resource))
        return resource


def delete_event_type(store: Store, uuid: str) -> Resource:
    """The owner deletes an event type (``event_type.deleted``).

    Args:
        store: The organization.
        uuid: The event type's uuid.

    Returns:
        The event type resource, now with ``deleted_at`` set.

    Raises:
        SimulatorError: 404 for an unknown or already deleted event type.
    """
    with store.lock:
        resource = _live_event_type(store, uuid)
        now = format_ts(store.clock.now())
        resource.update(active=False, deleted_at=now, updated_at=now)
        store.notify("event_type.deleted", dict(resource))
        return resource


def _event_type_resource(
    uuid: str, owner: Resource, name: str, duration: int, now: str
) -> Resource:
    slug = name.lower().replace(" ", "-")
    return {
        "uri": uri_of("event_types", uuid),
        "name": name,
        "active": True,
        "booking_method": "instant",
        "slug": slug,
        "scheduling_url": f"https://calendly.com/{owner['slug']}/{slug}",
        "duration": duration,
        "kind": "solo",
        "pooling_type": None,
        "type": "StandardEventType",
        "color": "#0069ff",
        "created_at": now,
        "updated_at": now,
        "internal_note": None,
        "description_plain": None,
        "description_html": None,
        "profile": {"type": "User", "name": owner["name"], "owner": owner["uri"]},
        "secret": False,
        "custom_questions": [],
        "deleted_at": None,
        "kind_description": "One-on-One",
        "admin_managed": False,
    }


def _live_event_type(store: Store, uuid: str) -> Resource:
    resource = store.event_types.get(uuid)
    if resource is None or resource.get("deleted_at"):
        raise SimulatorError(404, "Resource Not Found", "The event type was not found.")
    return resource
