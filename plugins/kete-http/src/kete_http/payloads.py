"""Turning the JSON that Keycloak webhook extensions send into kete events.

Recognised shapes, each given as one object or a JSON array of them:

- kete's and KETE's JSON, and Keycloak's own ``EventRepresentation`` / ``AdminEventRepresentation``:
  used as they are;
- p2-inc/keycloak-events (``ExtendedAdminEvent``): ``type`` is ``access.<TYPE>`` for user events and
  ``admin.<RESOURCE_TYPE>-<OPERATION>`` for admin events; user events carry the client, user,
  session and address in ``authDetails``, whose ``realmId`` holds the realm *name*;
- vymalo/keycloak-webhook (``WebhookPayload``): ``type`` is the user event type, or
  ``<RESOURCE_TYPE>-<OPERATION>`` for admin events, whose acting client, user and address are
  top-level fields.

p2-inc also forwards events that are not Keycloak's: *application* events that apps publish with
``POST /realms/<realm>/events`` (any ``type`` outside its ``access.``/``admin.``/``system.``
families, no realm, no id, the publishing account in ``authDetails``) and its ``system.`` events.
They are recognised (:class:`NotKeycloakEvent`) and kept out of routing, never read as user or
admin events.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kete_core import Event, MalformedEvent, parse_event

_ACTOR_FIELDS = ("clientId", "userId", "sessionId", "ipAddress")
_VYMALO_ACTOR_FIELDS = ("clientId", "userId", "ipAddress")
# Keycloak's ResourceType names and OperationType values: what a vymalo admin type is made of.
_VYMALO_ADMIN_TYPE = re.compile(r"[A-Z][A-Z0-9_]*-(?:CREATE|UPDATE|DELETE|ACTION)")


class NotKeycloakEvent(Exception):
    """A webhook sender's event that is not a Keycloak user or admin event (p2-inc's application
    and ``system.`` events): accepted from the sender, recorded, not routed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _split_admin_type(text: str, original: str) -> tuple[str, str]:
    resource, dash, operation = text.rpartition("-")
    if not dash or not resource or not operation:
        raise MalformedEvent(f"admin event type {original!r} is not <RESOURCE_TYPE>-<OPERATION>")
    return resource, operation


def _from_p2(data: dict[str, Any], family: str, rest: str) -> dict[str, Any]:
    original = data["type"]
    shaped = dict(data)
    auth = shaped.get("authDetails")
    if family == "access":
        if not rest:
            raise MalformedEvent(f"p2-inc event type {original!r} names no event type")
        shaped["type"] = rest
        if isinstance(auth, dict):
            for key in _ACTOR_FIELDS:
                if shaped.get(key) is None and auth.get(key) is not None:
                    shaped[key] = auth[key]
    elif family == "admin":
        resource, operation = _split_admin_type(rest, original)
        del shaped["type"]
        shaped["resourceType"] = shaped.get("resourceType") or resource
        shaped["operationType"] = shaped.get("operationType") or operation
    else:
        raise NotKeycloakEvent(
            f"a p2-inc {family} event ({original!r}), not a Keycloak user or admin event: not routed"
        )
    if isinstance(auth, dict) and auth.get("realmId") and not auth.get("realmName"):
        # p2-inc puts the realm's name in authDetails.realmId (its PR #72).
        shaped["authDetails"] = auth | {"realmName": auth["realmId"]}
        if family == "access" and not shaped.get("realmName"):
            shaped["realmName"] = auth["realmId"]
    return shaped


def _from_vymalo(data: dict[str, Any]) -> dict[str, Any]:
    resource, operation = _split_admin_type(data["type"], data["type"])
    shaped = {key: value for key, value in data.items() if key != "type"}
    shaped["resourceType"] = resource
    shaped["operationType"] = operation
    if "authDetails" not in shaped:
        actor = {key: shaped.pop(key) for key in _VYMALO_ACTOR_FIELDS if key in shaped}
        if any(value is not None for value in actor.values()):
            shaped["authDetails"] = actor
    return shaped


def _is_p2_application_event(value: dict[str, Any]) -> bool:
    """p2-inc marks what it sends with ``uid`` and names the publisher in ``authDetails``; neither
    Keycloak's user events nor vymalo's payloads carry either."""
    return "uid" in value or isinstance(value.get("authDetails"), dict)


def normalise(value: Any, realm_names: Mapping[str, str]) -> Event:
    """The kete event for one decoded JSON object of any recognised shape.

    :raises MalformedEvent: with the reason, when *value* is not an event.
    :raises NotKeycloakEvent: for a sender's own events (p2-inc application and system events).
    """
    if isinstance(value, dict):
        kind = value.get("type")
        if isinstance(kind, str) and not value.get("resourceType") and not value.get("operationType"):
            family, dot, rest = kind.partition(".")
            if dot and family in ("access", "admin", "system"):
                value = _from_p2(value, family, rest)
            elif _is_p2_application_event(value):
                raise NotKeycloakEvent(
                    f"a p2-inc application event ({kind!r}, published with POST /realms/<realm>/events), "
                    "not a Keycloak user or admin event: not routed"
                )
            elif "-" in kind:
                # Keycloak's user event types never contain '-'; vymalo's admin types always do.
                if not _VYMALO_ADMIN_TYPE.fullmatch(kind):
                    raise MalformedEvent(
                        f"type {kind!r} is neither a Keycloak user event type nor <RESOURCE_TYPE>-<OPERATION>"
                    )
                value = _from_vymalo(value)
        elif isinstance(kind, str) and kind.startswith("admin."):
            value = _from_p2(value, "admin", kind[len("admin.") :])
    return parse_event(value, realm_names)
