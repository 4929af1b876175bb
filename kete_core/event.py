"""Keycloak user and admin events, as kete routes them.

kete reads the JSON that Keycloak's Admin REST API returns (``EventRepresentation``,
``AdminEventRepresentation``) and the JSON that the original KETE extension writes. Every field
is optional and unknown fields are kept. On top of the raw fields kete derives what routes need:

- ``kind``: ``EVENT`` for user events, ``ADMIN_EVENT`` for admin events;
- ``event_type``: the user event's ``type``, or ``RESOURCETYPE_OPERATIONTYPE`` for an admin event
  (``USER_CREATE``);
- ``result``: ``SUCCESS`` when ``error`` is blank, else ``ERROR``;
- ``realm``: the realm **name** (from ``realmName``, else from the source's id→name map), falling
  back to the realm id when no name is known.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kete_core.errors import MalformedEvent

EVENT = "EVENT"
ADMIN_EVENT = "ADMIN_EVENT"

# The key order of the KETE JSON serializer, i.e. of Keycloak's Event and AdminEvent beans as the
# original's Jackson writes them on Keycloak 26.x: the fields in declaration order, then the
# getters without a field (getResourceTypeAsString; getResourceId, Keycloak 26.3 and later).
USER_FIELDS = (
    "id", "time", "type", "realmId", "realmName", "clientId", "userId", "sessionId", "ipAddress",
    "error", "details",
)  # fmt: skip
ADMIN_FIELDS = (
    "id", "time", "realmId", "realmName", "authDetails", "resourceType", "operationType",
    "resourcePath", "representation", "error", "details", "resourceTypeAsString", "resourceId",
)  # fmt: skip
AUTH_DETAILS_FIELDS = ("realmId", "realmName", "clientId", "userId", "ipAddress")
# Merging an event into these gives KETE's keys in KETE's order, null where absent, and then the
# event's unknown fields: one C-level dict merge, the serializer's hot path.
_USER_SHAPE = dict.fromkeys(USER_FIELDS)
_ADMIN_SHAPE = dict.fromkeys(ADMIN_FIELDS)
_AUTH_SHAPE = dict.fromkeys(AUTH_DETAILS_FIELDS)

_TEXT_FIELDS = ("id", "type", "realmId", "realmName", "error", "resourceType", "operationType")
_NO_NAMES: Mapping[str, str] = {}


def _reject_types(data: dict[str, Any]) -> None:
    """Raise :class:`MalformedEvent` naming the first field of *data* with the wrong type."""
    for field in _TEXT_FIELDS:
        value = data.get(field)
        if value is not None and not isinstance(value, str):
            raise MalformedEvent(f"field '{field}' must be a string, not {type(value).__name__}")
    time = data.get("time")
    if time is not None and (not isinstance(time, int) or isinstance(time, bool)):
        raise MalformedEvent(f"field 'time' must be epoch milliseconds, not {type(time).__name__}")
    for field in ("details", "authDetails"):
        value = data.get(field)
        if value is not None and not isinstance(value, dict):
            raise MalformedEvent(f"field '{field}' must be an object, not {type(value).__name__}")


class Event:
    """One Keycloak event: the raw JSON object plus the fields kete derives from it.

    :ivar data: the event as received, unknown fields included; never modified.
    :ivar kind: ``EVENT`` or ``ADMIN_EVENT``.
    :ivar event_type: what event matchers see (``LOGIN``, ``USER_CREATE``).
    :ivar realm: what realm matchers see: the realm name, else its id, else ``""``.
    :ivar realm_name: the realm name when known, else None.
    :ivar auth_realm_name: admin events: the acting admin's realm name when known, else None.
    :ivar resource_type: admin events only, else None.
    :ivar operation_type: admin events only, else None.
    """

    __slots__ = (
        "auth_realm_name", "data", "event_type", "kind", "operation_type", "realm", "realm_name", "resource_type",
    )  # fmt: skip

    def __init__(self, data: dict[str, Any], realm_names: Mapping[str, str] = _NO_NAMES) -> None:
        get = data.get
        event_type, realm_id, realm_name, error = get("type"), get("realmId"), get("realmName"), get("error")
        resource_type, operation_type = get("resourceType"), get("operationType")
        time, auth, details, event_id = get("time"), get("authDetails"), get("details"), get("id")
        # One inline expression: this runs for every event, a loop over the fields cost twice as much.
        if not (
            (event_type is None or event_type.__class__ is str)
            and (realm_id is None or realm_id.__class__ is str)
            and (realm_name is None or realm_name.__class__ is str)
            and (error is None or error.__class__ is str)
            and (resource_type is None or resource_type.__class__ is str)
            and (operation_type is None or operation_type.__class__ is str)
            and (event_id is None or event_id.__class__ is str)
            and (time is None or time.__class__ is int)
            and (auth is None or auth.__class__ is dict)
            and (details is None or details.__class__ is dict)
        ):
            _reject_types(data)
        if resource_type or operation_type:
            if not (resource_type and operation_type):
                missing = "operationType" if resource_type else "resourceType"
                raise MalformedEvent(f"admin event has no '{missing}'")
            self.kind = ADMIN_EVENT
            self.event_type = f"{resource_type}_{operation_type}"
        elif event_type:
            self.kind = EVENT
            self.event_type = event_type
        else:
            raise MalformedEvent(
                "not a Keycloak event: no 'type' (user event) and no 'resourceType'/'operationType' (admin event)"
            )
        self.data = data
        self.resource_type = resource_type or None
        self.operation_type = operation_type or None
        self.realm_name = realm_name = realm_name or (realm_names.get(realm_id) if realm_id and realm_names else None)
        self.realm = realm_name or realm_id or ""
        self.auth_realm_name = (auth.get("realmName") or realm_names.get(auth.get("realmId") or "")) if auth else None

    @property
    def result(self) -> str:
        """``SUCCESS`` or ``ERROR``: whether the event carries an error."""
        return "ERROR" if self.data.get("error") else "SUCCESS"

    @property
    def id(self) -> str | None:
        """Keycloak's event id (Keycloak 26.2 and later), else None."""
        return self.data.get("id")

    def to_kete(self) -> dict[str, Any]:
        """The event in the KETE JSON shape: KETE's keys in KETE's order, then any unknown fields.

        Absent KETE fields are ``None`` (KETE writes ``null``); ``realmName`` is the known realm name;
        an admin event's ``resourceTypeAsString`` and ``resourceId`` are derived as Keycloak's getters
        derive them (from ``resourceType`` and ``resourcePath``) when the event does not carry them.
        """
        data = self.data
        user = self.kind == EVENT
        kete = {**(_USER_SHAPE if user else _ADMIN_SHAPE), **data}
        # Assigned after the merge: a trailing {"realmName": ...} would build a dict of its own.
        kete["realmName"] = self.realm_name
        if user:
            return kete
        auth = data.get("authDetails")
        if auth is not None:
            kete["authDetails"] = auth = {**_AUTH_SHAPE, **auth}
            auth["realmName"] = self.auth_realm_name
        kete["resourceTypeAsString"] = data.get("resourceTypeAsString") or self.resource_type
        if kete["resourceId"] is None:
            kete["resourceId"] = resource_id(data.get("resourcePath"))
        return kete

    def __repr__(self) -> str:
        return f"Event({self.kind} {self.event_type} realm={self.realm!r} id={self.id!r})"


def resource_id(resource_path: Any) -> str | None:
    """Keycloak's ``AdminEvent.getResourceId()``: what follows the last ``/`` of the resource path
    (the whole path without one), None when the path is absent or ends in ``/``."""
    if not isinstance(resource_path, str):
        return None
    slash = resource_path.rfind("/")
    return resource_path[slash + 1 :] if slash < len(resource_path) - 1 else None


def parse_event(value: Any, realm_names: Mapping[str, str] = _NO_NAMES) -> Event:
    """Build an :class:`Event` from decoded JSON; raise :class:`MalformedEvent` with the reason."""
    if not isinstance(value, dict):
        raise MalformedEvent(f"an event must be a JSON object, not {type(value).__name__}")
    return Event(value, realm_names)
