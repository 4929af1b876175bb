"""The azure-webpubsub sink's KETE settings and REST sends, against a Web PubSub service on aiohttp that
checks each request's JWT, api-version and content type as the service does."""

from __future__ import annotations

import base64
import gzip

import orjson
import pytest

from kete_core import ConfigErrors, Message, RenderError, Unavailable, parse_event
from kete_core.testing import admin_event

KIND = "azure-webpubsub"
pytestmark = pytest.mark.azure


async def test_every_event_goes_to_the_hub_as_json(pubsub, make_sink, ev):
    sink = make_sink(KIND, **{"connection-string": pubsub.connection_string, "hub": "keycloak"})
    assert await sink.send([ev(1), ev(2)]) is None
    assert [(m.hub, m.group, m.content_type) for m in pubsub.messages] == [("keycloak", None, "application/json")] * 2
    assert [m.body for m in pubsub.messages] == [ev(1).payload, ev(2).payload]


async def test_templated_hub_and_group(pubsub, make_sink, ev):
    settings = {
        "connection-string": pubsub.connection_string,
        "hub": "kc_${realmLowerCase}",
        "group": "${eventTypeUpperCase}",
    }
    sink = make_sink(KIND, **settings)
    assert await sink.send([ev(1, realm="Acme"), ev(2, realm="Other", event_type="LOGOUT")]) is None
    assert [(m.hub, m.group) for m in pubsub.messages] == [("kc_acme", "LOGIN"), ("kc_other", "LOGOUT")]


async def test_an_unresolved_variable_fails_that_event_alone(pubsub, make_sink, ev):
    settings = {"connection-string": pubsub.connection_string, "hub": "keycloak", "group": "${resourceTypeLowerCase}"}
    sink = make_sink(KIND, **settings)
    event = parse_event(admin_event(2))
    admin = Message(event, orjson.dumps(event.to_kete()), "application/json")
    results = await sink.send([ev(1), admin])
    assert results is not None and isinstance(results[0], RenderError)  # a user event has no resource type
    assert results[1] is None
    assert [(m.group, m.body) for m in pubsub.messages] == [("user", admin.payload)]


async def test_encoded_payloads_are_sent_as_text(pubsub, make_sink, ev):
    settings = {
        "connection-string": pubsub.connection_string,
        "hub": "keycloak",
        "content-encoding": "gzip",
        "content-transfer-encoding": "base64",
    }
    sink = make_sink(KIND, **settings)
    assert await sink.send([ev(1)]) is None
    [message] = pubsub.messages
    assert message.content_type == "text/plain"
    assert orjson.loads(gzip.decompress(base64.b64decode(message.body))) == orjson.loads(ev(1).payload)


async def test_a_wrong_access_key_makes_the_route_wait_with_the_reason(pubsub, make_sink, ev):
    wrong = pubsub.connection_string.replace(pubsub.key, "d3Jvbmc=")
    sink = make_sink(KIND, **{"connection-string": wrong, "hub": "keycloak"})
    with pytest.raises(Unavailable, match=r"answered 401.*check the connection string's AccessKey"):
        await sink.send([ev(1), ev(2)])
    assert pubsub.messages == []


def test_kete_checks_of_the_settings(make_sink):
    with pytest.raises(ConfigErrors) as caught:
        make_sink(KIND, hub="keycloak")
    assert "routes.r.destination.connection-string: 'connection-string' or 'authentication-type' must be set" in str(
        caught.value
    )
    with pytest.raises(ConfigErrors, match="does not contain an AccessKey"):
        make_sink(KIND, hub="keycloak", **{"connection-string": "Endpoint=https://x.webpubsub.azure.com;Version=1.0"})
    with pytest.raises(ConfigErrors, match="hub is required"):
        make_sink(KIND, hub=" ", **{"connection-string": "Endpoint=https://x;AccessKey=k"})


async def test_the_test_service_takes_microsofts_sdk_with_the_key_and_with_a_managed_identity(
    start_service, identity, pki
):
    from azure.identity.aio import ManagedIdentityCredential
    from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient

    key = base64.b64encode(b"a key of 32 bytes for the SDK...").decode()  # PyJWT warns below 32
    service = await start_service(key=key, identity=identity, tls=pki.server_context())
    verify = {"connection_verify": str(pki.ca_file), "retry_total": 0}
    async with WebPubSubServiceClient.from_connection_string(service.connection_string, hub="kc", **verify) as client:
        await client.send_to_all({"id": "e1"}, content_type="application/json")
        await client.send_to_group("acme", "text", content_type="text/plain")
    async with (
        ManagedIdentityCredential() as credential,
        WebPubSubServiceClient(service.endpoint, "kc", credential, **verify) as client,
    ):
        await client.send_to_all({"id": "e2"}, content_type="application/json")
    assert [(m.hub, m.group, m.content_type) for m in service.messages] == [
        ("kc", None, "application/json"),
        ("kc", "acme", "text/plain"),
        ("kc", None, "application/json"),
    ]
    assert service.ids() == ["e1", "e2"] and service.messages[1].body == b"text"
    assert [r.resource for r in identity.requests] == ["https://webpubsub.azure.com"]
