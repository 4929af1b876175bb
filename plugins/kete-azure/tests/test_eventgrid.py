"""The azure-eventgrid sink's KETE settings and the Event Grid schema, against an Event Grid topic on
aiohttp that checks each publish as the service does."""

from __future__ import annotations

import base64
import gzip

import pytest

from kete_core import ConfigErrors, Unavailable

KIND = "azure-eventgrid"
pytestmark = pytest.mark.azure


async def test_kete_defaults_one_publish_per_batch(topic, make_sink, ev):
    sink = make_sink(KIND, endpoint=topic.url, **{"access-key": topic.key})
    messages = [ev(1), ev(2, event_type="LOGIN_ERROR")]
    assert await sink.send(messages) is None
    assert topic.publishes == 1
    first, second = topic.events
    assert (first["subject"], first["eventType"], first["dataVersion"]) == ("LOGIN", "KeycloakEvent", "1.0")
    assert second["subject"] == "LOGIN_ERROR"
    assert first["data"]["id"] == "e1" and first["id"] != second["id"]


async def test_templated_subject_and_event_type_and_data_version(topic, make_sink, ev):
    settings = {
        "access-key": topic.key,
        "subject": "keycloak/${realmLowerCase}",
        "event-type": "Keycloak.${eventTypePascalCase}",
        "data-version": "2.1",
    }
    sink = make_sink(KIND, endpoint=topic.url, **settings)
    assert await sink.send([ev(1, realm="Acme")]) is None
    [event] = topic.events
    assert (event["subject"], event["eventType"], event["dataVersion"]) == ("keycloak/acme", "Keycloak.Login", "2.1")


async def test_a_batch_is_cut_into_publishes_below_one_megabyte(topic, make_sink, ev):
    sink = make_sink(KIND, endpoint=topic.url, **{"access-key": topic.key})
    messages = [ev(n, details={"blob": "x" * 300_000}) for n in range(1, 6)]
    assert await sink.send(messages) is None  # the topic refuses a publish above 1 MB with 413
    assert topic.ids() == [f"e{n}" for n in range(1, 6)]
    assert topic.publishes == 2  # three, then two


async def test_encoded_payloads_are_the_data_as_text(topic, make_sink, ev):
    settings = {"access-key": topic.key, "content-encoding": "gzip", "content-transfer-encoding": "base64"}
    sink = make_sink(KIND, endpoint=topic.url, **settings)
    assert await sink.send([ev(1)]) is None
    [event] = topic.events
    assert gzip.decompress(base64.b64decode(event["data"])) == ev(1).payload


async def test_a_wrong_access_key_makes_the_route_wait_with_the_reason(topic, make_sink, ev):
    sink = make_sink(KIND, endpoint=topic.url, **{"access-key": "wrong"})
    with pytest.raises(Unavailable, match=r"answered 401.*check access-key"):
        await sink.send([ev(1), ev(2)])
    assert topic.events == []


def test_kete_checks_of_the_settings(make_sink):
    with pytest.raises(ConfigErrors) as caught:
        make_sink(KIND, endpoint="topic.example", **{"event-type": " "})
    text = "\n".join(str(error) for error in caught.value.errors)
    assert "routes.r.destination.endpoint: endpoint must be a valid absolute URL" in text
    assert "routes.r.destination.access-key: 'access-key' or 'authentication-type' must be set" in text
    assert "event-type cannot be blank" in text
