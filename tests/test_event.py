from __future__ import annotations

import pytest

from kete_core.builtins.json_serializer import JsonSerializer
from kete_core.contracts import ComponentConfig
from kete_core.errors import MalformedEvent
from kete_core.event import ADMIN_EVENT, ADMIN_FIELDS, EVENT, USER_FIELDS, parse_event, resource_id
from tests.seeds import SEEDS, read_seed_documents, recorded, seed_admin_types, seed_user_event_types


def test_the_recorded_types_agree_with_the_seed_documents():
    if not SEEDS.is_dir():
        pytest.skip(f"the seed documents are not beside this clone ({SEEDS})")
    assert recorded() == read_seed_documents()


def test_every_user_event_type_of_the_seeds_parses():
    types = seed_user_event_types()
    assert len(types) > 100
    for event_type in types:
        event = parse_event({"type": event_type, "realmId": "r"})
        assert event.kind == EVENT
        assert event.event_type == event_type
        assert event.result == "SUCCESS"


def test_every_admin_resource_and_operation_of_the_seed_parses():
    resources, operations = seed_admin_types()
    assert len(resources) >= 29 and operations == {"CREATE", "UPDATE", "DELETE", "ACTION"}
    for resource in resources:
        for operation in operations:
            event = parse_event({"resourceType": resource, "operationType": operation})
            assert event.kind == ADMIN_EVENT
            assert event.event_type == f"{resource}_{operation}"
            assert (event.resource_type, event.operation_type) == (resource, operation)


def test_custom_types_outside_keycloaks_enum_parse():
    assert parse_event({"type": "ORG_MEMBER_JOINED"}).event_type == "ORG_MEMBER_JOINED"
    assert parse_event({"resourceType": "ORGANIZATION", "operationType": "ACTION"}).event_type == "ORGANIZATION_ACTION"


def test_result_follows_error():
    assert parse_event({"type": "LOGIN_ERROR", "error": "invalid_user_credentials"}).result == "ERROR"
    assert parse_event({"type": "LOGIN", "error": ""}).result == "SUCCESS"
    assert parse_event({"resourceType": "USER", "operationType": "CREATE", "error": "conflict"}).result == "ERROR"


def test_realm_is_the_name_then_the_sources_map_then_the_id():
    assert parse_event({"type": "LOGIN", "realmId": "u1", "realmName": "acme"}).realm == "acme"
    from_map = parse_event({"type": "LOGIN", "realmId": "u1"}, {"u1": "acme"})
    assert (from_map.realm, from_map.realm_name) == ("acme", "acme")
    unknown = parse_event({"type": "LOGIN", "realmId": "u2"}, {"u1": "acme"})
    assert (unknown.realm, unknown.realm_name) == ("u2", None)
    assert parse_event({"type": "LOGIN"}).realm == ""


def test_unknown_fields_are_kept_and_serialized_after_ketes():
    event = parse_event({"type": "LOGIN", "realmId": "r", "x-custom": {"a": 1}, "id": "e1"})
    shaped = event.to_kete()
    assert list(shaped)[: len(USER_FIELDS)] == list(USER_FIELDS)
    assert shaped["x-custom"] == {"a": 1}
    assert shaped["error"] is None


def test_kete_json_shape_of_an_admin_event():
    event = parse_event(
        {
            "time": 5,
            "realmId": "r",
            "authDetails": {"realmId": "master", "userId": "u", "extra": "kept"},
            "operationType": "CREATE",
            "resourceType": "USER",
            "resourcePath": "users/1",
            "representation": '{"username":"a"}',
        },
        {"r": "acme"},
    )
    shaped = event.to_kete()
    assert list(shaped) == list(ADMIN_FIELDS)
    assert shaped["realmName"] == "acme"
    assert (shaped["resourceTypeAsString"], shaped["resourceId"], shaped["details"]) == ("USER", "1", None)
    # The original's bytes on Keycloak 26.x end so (issue 16 item 17).
    assert (
        JsonSerializer(ComponentConfig())
        .serialize(event)
        .endswith(b'"error":null,"details":null,"resourceTypeAsString":"USER","resourceId":"1"}')
    )
    assert shaped["authDetails"] == {
        "realmId": "master", "realmName": None, "clientId": None, "userId": "u", "ipAddress": None, "extra": "kept",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("path", "expected"),
    [("users/1", "1"), ("users/1/role-mappings/realm", "realm"), ("users", "users"), ("users/", None), ("", None),
     (None, None)],
)  # fmt: skip
def test_resource_id_is_keycloak_s(path, expected):
    """``AdminEvent.getResourceId()``: after the last slash, the whole path without one, else null."""
    assert resource_id(path) == expected
    event = parse_event({"resourceType": "USER", "operationType": "CREATE", "resourcePath": path})
    assert event.to_kete()["resourceId"] == expected
    carried = parse_event({"resourceType": "USER", "operationType": "CREATE", "resourceId": "kept", "details": {}})
    assert (carried.to_kete()["resourceId"], carried.to_kete()["details"]) == ("kept", {})


def test_kete_json_round_trips_through_the_json_serializer():
    import orjson

    serializer = JsonSerializer(ComponentConfig())
    first = parse_event({"type": "LOGIN", "realmId": "r", "details": {"username": "ada"}}, {"r": "acme"})
    again = parse_event(orjson.loads(serializer.serialize(first)))
    assert again.to_kete() == first.to_kete()
    assert again.realm == "acme"


def test_the_json_serializer_writes_a_batch_as_it_writes_each_event():
    serializer = JsonSerializer(ComponentConfig())
    events = [
        parse_event({"type": "LOGIN", "realmId": "r"}, {"r": "acme"}),
        parse_event(
            {"resourceType": "USER", "operationType": "CREATE", "authDetails": {"realmId": "r"}}, {"r": "acme"}
        ),
    ]
    assert serializer.serialize_batch(events) == [serializer.serialize(event) for event in events]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ([1, 2], "must be a JSON object"),
        ({}, "not a Keycloak event"),
        ({"clientId": "x"}, "not a Keycloak event"),
        ({"type": 7}, "field 'type' must be a string"),
        ({"type": "LOGIN", "time": "yesterday"}, "field 'time' must be epoch milliseconds"),
        ({"type": "LOGIN", "time": True}, "field 'time' must be epoch milliseconds"),
        ({"type": "LOGIN", "details": "x"}, "field 'details' must be an object"),
        ({"resourceType": "USER"}, "admin event has no 'operationType'"),
        ({"operationType": "CREATE"}, "admin event has no 'resourceType'"),
        ({"type": "LOGIN", "realmId": ["a"]}, "field 'realmId' must be a string"),
    ],
)
def test_malformed_events_are_rejected_with_the_reason(value, reason):
    with pytest.raises(MalformedEvent, match=reason):
        parse_event(value)
