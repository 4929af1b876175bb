"""The websocket sink's KETE settings and behaviour, against a real aiohttp WebSocket server."""

from __future__ import annotations

import asyncio
import socket

import pytest

from kete_core import ConfigErrors, PermanentError, Unavailable
from kete_core.testing.services import free_ports
from tests.services.waiting import until

pytestmark = pytest.mark.websocket


async def test_text_frames_keep_one_connection_across_batches(server, make_sink, ev):
    sink = make_sink(url=f"{server.url}/events/${{realmLowerCase}}/${{eventTypeKebabCase}}")
    assert await sink.send([ev(1), ev(2, realm="Partner Portal")]) is None
    assert await sink.send([ev(3, event_type="LOGIN_ERROR")]) is None
    assert [(frame.path, frame.json()["id"]) for frame in server.frames] == [
        ("/events/acme/login", "e1"), ("/events/partner%20portal/login", "e2"), ("/events/acme/login-error", "e3"),
    ]  # fmt: skip
    assert all(isinstance(frame.data, str) for frame in server.frames)
    assert len(server.handshakes) == 3  # one per URL, kept for the next batch


async def test_binary_mode_subprotocol_and_handshake_headers(start_server, make_sink, ev):
    server = await start_server(protocols=("kete.v2",))
    sink = make_sink(
        host="127.0.0.1",
        port=server.port,
        path="feed",
        **{"binary-mode": True, "subprotocol": "kete.v1, kete.v2", "headers": {"X-Team": "identity"}},
    )
    await sink.send([ev(1)])
    [frame] = server.frames
    assert frame.path == "/feed" and isinstance(frame.data, bytes) and frame.json()["id"] == "e1"
    assert frame.protocol == "kete.v2"
    assert frame.headers["Sec-WebSocket-Protocol"] == "kete.v1,kete.v2"
    assert frame.headers["X-Team"] == "identity"
    assert "eventtype" not in frame.headers  # no per-message metadata on a WebSocket, as in KETE


async def test_a_refused_handshake_is_a_clear_permanent_error(start_server, make_sink, ev):
    server = await start_server(require={"Authorization": "Bearer right"})
    sink = make_sink(url=server.url, headers={"Authorization": "Bearer wrong"})
    results = await sink.send([ev(1), ev(2)])
    assert all(isinstance(result, PermanentError) for result in results)
    text = str(results[0])
    assert "the server refused the connection: HTTP 401" in text and "destination.headers" in text
    assert server.frames == []


async def test_oauth_bearer_in_the_handshake(start_server, make_sink, token_endpoint, ev):
    server = await start_server(require={"Authorization": "Bearer token-1"})
    sink = make_sink(url=server.url, **{"authentication-type": "oauth", "oauth": token_endpoint.settings})
    assert await sink.send([ev(1)]) is None
    assert server.frames[0].headers["Authorization"] == "Bearer token-1"


async def test_a_server_down_is_unavailable_and_the_connection_comes_back(server, make_sink, ev):
    sink = make_sink(url=f"{server.url}/e", **{"connection-timeout-seconds": 2})
    assert await sink.send([ev(1)]) is None
    await server.stop()
    with pytest.raises(Unavailable, match=r"127\.0\.0\.1"):
        await sink.send([ev(2)])
    await server.start()
    assert await sink.send([ev(2), ev(3)]) is None
    assert [frame.json()["id"] for frame in server.frames] == ["e1", "e2", "e3"]
    assert len(server.handshakes) == 2


async def test_a_server_that_stops_answering_pings_is_dropped(start_server, make_sink, ev):
    server = await start_server(answer_pings=False)
    sink = make_sink(url=server.url, **{"connection-timeout-seconds": 0.5})
    with pytest.raises(Unavailable, match=r"no pong within 0\.5s"):
        await sink.send([ev(1)])


async def test_liveness_pings_an_idle_connection(server, make_sink, ev):
    sink = make_sink(url=server.url, **{"connection-lost-timeout-seconds": 0.2})
    await sink.send([ev(1)])
    [connection] = sink._open.values()
    await asyncio.sleep(0.7)
    assert connection.lost is None and next(connection._pings) >= 3  # pinged while idle, answered
    await server.stop()
    await until(lambda: connection.lost is not None, 5, what="the lost connection to be noticed")


async def test_wss_with_the_tests_certificates(start_server, make_sink, pki, ev):
    server = await start_server(ssl_context=pki.server_context())
    sink = make_sink(url=f"{server.url}/secure", tls={"ca-file": str(pki.ca_file)})
    assert await sink.send([ev(1)]) is None
    assert server.frames[0].path == "/secure"
    untrusted = make_sink(url=f"{server.url}/secure", **{"connection-timeout-seconds": 2})
    with pytest.raises(Unavailable, match="certificate"):
        await untrusted.send([ev(2)])


async def test_text_mode_refuses_a_payload_that_is_not_text(server, make_sink, ev):
    sink = make_sink(url=server.url)
    bad = ev(2)
    bad.payload = b"\xff\xfe"
    results = await sink.send([ev(1), bad, ev(3)])
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], PermanentError) and "binary-mode" in str(results[1])
    assert [frame.json()["id"] for frame in server.frames] == ["e1", "e3"]


def test_settings_errors_name_the_setting(make_sink):
    (port,) = free_ports(1)
    with pytest.raises(ConfigErrors) as caught:
        make_sink(url=f"http://127.0.0.1:{port}/", headers={"bad name": "x"}, subprotocol="a b")
    assert [error.path for error in caught.value.errors] == [
        "routes.r.destination.url", "routes.r.destination.headers.bad name", "routes.r.destination.subprotocol",
    ]  # fmt: skip


async def test_utf8_text_goes_out_as_the_same_text_and_the_socket_is_uncorked(server, make_sink, ev):
    sink = make_sink(url=server.url)
    accented = ev(2)
    accented.payload = '{"id":"e2","username":"zoë 🙂"}'.encode()
    assert await sink.send([ev(1), accented]) is None
    assert [frame.data for frame in server.frames][1] == '{"id":"e2","username":"zoë 🙂"}'
    assert all(isinstance(frame.data, str) for frame in server.frames)
    # Corked only while a batch is written: a later lone frame or ping must not wait for more.
    (connection,) = sink._open.values()
    sock = connection.ws.get_extra_info("socket")
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_CORK) == 0
