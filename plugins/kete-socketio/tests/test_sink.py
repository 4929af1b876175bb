"""The socketio sink's KETE settings and behaviour, against a real python-socketio server."""

from __future__ import annotations

import pytest

from kete_core import ConfigErrors, PermanentError, Unavailable

pytestmark = pytest.mark.websocket


async def test_events_are_emitted_as_objects_under_their_names_on_one_connection(start_server, make_sink, ev):
    server = await start_server(namespace="/keycloak", path="events-io")
    sink = make_sink(
        url=server.url,
        namespace="keycloak",
        path="/events-io/",
        headers={"X-Team": "identity"},
        **{"event-name": "kc-${eventTypeKebabCase}"},
    )
    assert await sink.send([ev(1), ev(2, event_type="LOGIN_ERROR")]) is None
    assert await sink.send([ev(3)]) is None
    assert [(item.name, item.namespace, item.data["id"]) for item in server.received] == [
        ("kc-login", "/keycloak", "e1"), ("kc-login-error", "/keycloak", "e2"), ("kc-login", "/keycloak", "e3"),
    ]  # fmt: skip
    assert isinstance(server.received[0].data, dict)  # a JSON object, as KETE's JSONObject
    assert server.received[0].headers["X-Team"] == "identity"
    assert server.connects == 1  # the connection is kept across batches


async def test_text_payloads_are_emitted_as_text(server, make_sink, ev):
    sink = make_sink(url=server.url, **{"event-name": "e"})
    text = ev(1)
    text.payload, text.content_type = b"LOGIN in acme", "text/plain"
    assert await sink.send([text]) is None
    assert server.received[0].data == "LOGIN in acme"


async def test_delivery_waits_for_the_servers_acknowledgement(start_server, make_sink, ev):
    server = await start_server(stall=True)
    sink = make_sink(url=server.url, **{"event-name": "e", "timeout-seconds": 0.5})
    with pytest.raises(Unavailable, match=r"no acknowledgement within 0\.5s"):
        await sink.send([ev(1)])
    fire_and_forget = make_sink(url=server.url, ack=False, **{"event-name": "e"})
    assert await fire_and_forget.send([ev(2)]) is None


async def test_a_refused_connection_is_a_clear_permanent_error(start_server, make_sink, ev):
    server = await start_server(require={"Authorization": "Bearer right"})
    sink = make_sink(url=server.url, headers={"Authorization": "Bearer wrong"}, **{"event-name": "e"})
    results = await sink.send([ev(1), ev(2)])
    assert all(isinstance(result, PermanentError) for result in results)
    assert "refused the connection: not authorized" in str(results[0]) and "oauth" in str(results[0])
    assert server.received == []


async def test_oauth_bearer_in_the_handshake(start_server, make_sink, token_endpoint, ev):
    server = await start_server(require={"Authorization": "Bearer token-1"})
    sink = make_sink(url=server.url, oauth={"enabled": True, **token_endpoint.settings}, **{"event-name": "e"})
    assert await sink.send([ev(1)]) is None
    assert server.ids() == ["e1"]


async def test_a_server_down_is_unavailable_and_the_connection_comes_back(server, make_sink, ev):
    sink = make_sink(url=server.url, **{"event-name": "e", "timeout-seconds": 2})
    assert await sink.send([ev(1)]) is None
    await server.stop()
    with pytest.raises(Unavailable, match=r"127\.0\.0\.1"):
        await sink.send([ev(2)])
    await server.start()
    assert await sink.send([ev(2), ev(3)]) is None
    assert server.ids() == ["e1", "e2", "e3"]
    assert server.connects == 2


async def test_https_with_the_tests_certificates(start_server, make_sink, pki, ev):
    server = await start_server(ssl_context=pki.server_context())
    sink = make_sink(url=server.url, tls={"ca-file": str(pki.ca_file)}, **{"event-name": "e"})
    assert await sink.send([ev(1)]) is None
    untrusted = make_sink(url=server.url, **{"event-name": "e", "timeout-seconds": 2})
    with pytest.raises(Unavailable):
        await untrusted.send([ev(2)])
    assert server.ids() == ["e1"]


def test_settings_errors_name_the_setting(make_sink):
    with pytest.raises(ConfigErrors) as caught:
        make_sink(url="ftp://x", headers={"bad name": "x"}, **{"event-name": " "})
    assert [error.path for error in caught.value.errors] == [
        "routes.r.destination.url", "routes.r.destination.event-name", "routes.r.destination.headers.bad name",
    ]  # fmt: skip
