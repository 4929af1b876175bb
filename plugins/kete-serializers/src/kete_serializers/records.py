"""The record the original's ``AvroSerializer`` and ``ProtobufSerializer`` fill: snake_case fields.

A user event: ``id, time, type, realm_id, realm_name, client_id, user_id, session_id, ip_address, error,
details``. An admin event: ``id, time, realm_id, realm_name, auth_details`` (``realm_id, realm_name,
client_id, user_id, ip_address``), ``resource_type`` (Keycloak's ``getResourceTypeAsString()``),
``operation_type, resource_path, representation, error``. The original leaves the admin event's
``details`` out, though the newest schemas have the field, and writes no ``resourceId``. Absent
values are None.
"""

from __future__ import annotations

from typing import Any

from kete_core import EVENT, Event

USER_FIELDS = (
    ("id", "id"), ("time", "time"), ("type", "type"), ("realm_id", "realmId"), ("realm_name", "realmName"),
    ("client_id", "clientId"), ("user_id", "userId"), ("session_id", "sessionId"), ("ip_address", "ipAddress"),
    ("error", "error"), ("details", "details"),
)  # fmt: skip
ADMIN_FIELDS = (
    ("id", "id"), ("time", "time"), ("realm_id", "realmId"), ("realm_name", "realmName"),
    ("auth_details", "authDetails"), ("resource_type", "resourceTypeAsString"), ("operation_type", "operationType"),
    ("resource_path", "resourcePath"), ("representation", "representation"), ("error", "error"),
)  # fmt: skip
AUTH_FIELDS = (
    ("realm_id", "realmId"), ("realm_name", "realmName"), ("client_id", "clientId"), ("user_id", "userId"),
    ("ip_address", "ipAddress"),
)  # fmt: skip


def original_record(event: Event) -> dict[str, Any]:
    """*event* as the original's record: snake_case names, in the schema's order."""
    kete = event.to_kete()
    user = event.kind == EVENT
    record = {name: kete.get(key) for name, key in (USER_FIELDS if user else ADMIN_FIELDS)}
    auth = record.get("auth_details")
    if isinstance(auth, dict):
        record["auth_details"] = {name: auth.get(key) for name, key in AUTH_FIELDS}
    return record
