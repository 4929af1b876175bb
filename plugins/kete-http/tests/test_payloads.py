"""Normalising webhook payloads into kete events, shape by shape."""

from __future__ import annotations

import pytest
from kete_http.payloads import NotKeycloakEvent, normalise

from kete_core.errors import MalformedEvent


def test_keycloak_and_kete_json_pass_unchanged():
    raw = {"id": "1", "type": "LOGIN", "realmId": "r", "details": {"username": "a"}}
    event = normalise(raw, {"r": "acme"})
    assert event.data is raw and event.realm == "acme"


def test_p2_access_event_takes_the_actor_from_auth_details():
    event = normalise(
        {"type": "access.LOGIN", "realmId": "id-1", "authDetails": {"realmId": "acme", "userId": "u", "clientId": "c"},
         "resourceType": None, "operationType": None},
        {},
    )  # fmt: skip
    assert (event.kind, event.event_type, event.realm) == ("EVENT", "LOGIN", "acme")
    assert (event.data["userId"], event.data["clientId"]) == ("u", "c")


def test_p2_admin_event_keeps_its_own_resource_and_operation():
    event = normalise({"type": "admin.CLIENT_SCOPE-UPDATE", "realmName": "acme"}, {})
    assert (event.resource_type, event.operation_type, event.event_type) == (
        "CLIENT_SCOPE",
        "UPDATE",
        "CLIENT_SCOPE_UPDATE",
    )
    event = normalise({"type": "admin.USER-DELETE", "resourceType": "USER", "operationType": "DELETE"}, {})
    assert event.event_type == "USER_DELETE" and "type" not in event.data


def test_vymalo_admin_event_moves_the_actor_into_auth_details():
    event = normalise(
        {"type": "REALM_ROLE_MAPPING-CREATE", "realmId": "r", "userId": "admin", "ipAddress": "1.2.3.4"}, {}
    )
    assert event.event_type == "REALM_ROLE_MAPPING_CREATE"
    assert event.data["authDetails"] == {"userId": "admin", "ipAddress": "1.2.3.4"}
    assert "userId" not in event.data


@pytest.mark.parametrize(
    "payload", [{"type": "admin.-CREATE"}, {"type": "USER-"}, {"type": "order-created", "realmId": "r"}, []]
)
def test_what_is_not_an_event_is_malformed(payload):
    with pytest.raises(MalformedEvent):
        normalise(payload, {})


# What p2-inc 0.59 sends for POST /realms/acme/events {"type": "order-created", ...}: ExtendedAdminEvent with
# no realm and no id, the publishing account in authDetails.
P2_APPLICATION_EVENT = {
    "uid": "0a1b2c", "time": 1732000000789, "type": "order-created", "realmId": None, "id": None,
    "authDetails": {"realmId": "acme", "clientId": "shop", "userId": "u-1", "username": "svc-shop",
                    "ipAddress": "10.0.0.3"},
    "resourceType": None, "operationType": None, "resourcePath": "orders/17", "representation": '{"total":3}',
    "details": {},
}  # fmt: skip


@pytest.mark.parametrize(
    "payload",
    [
        P2_APPLICATION_EVENT,
        {**P2_APPLICATION_EVENT, "type": "ORDER_CREATED"},  # looks like a user event type
        {**P2_APPLICATION_EVENT, "type": "ORDER-UPDATE"},  # looks like a vymalo admin type
        {"uid": "9", "type": "system.ALERT", "time": 1},
    ],
)
def test_p2_application_and_system_events_are_recognised_not_misread(payload):
    """Issue 16 item 23: never a vymalo admin event with resourceType 'order', nor a user event."""
    with pytest.raises(NotKeycloakEvent, match="not a Keycloak user or admin event: not routed"):
        normalise(payload, {})
