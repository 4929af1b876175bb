"""kete_core.web: the handshake of sinks keeping a connection, against real servers on 127.0.0.1."""

from __future__ import annotations

import pytest
from aiohttp import web

from kete_core import (
    ConfigErrors,
    ConnectionLost,
    HandshakeClient,
    HandshakeRefused,
    HandshakeSettings,
    PermanentError,
    Unavailable,
    connection_outcome,
)
from kete_core.testing.oauth import TokenEndpoint
from kete_core.testing.services import free_ports


@pytest.fixture
async def tokens():
    endpoint = await TokenEndpoint().start()
    yield endpoint
    await endpoint.stop()


@pytest.fixture
async def gate():
    """A server answering 204 to ``Authorization: Bearer token-2`` only (token-1 is "expired")."""
    seen: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        return web.Response(status=204 if request.headers.get("Authorization") == "Bearer token-2" else 401)

    app = web.Application()
    app.router.add_get("/", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/", seen
    await runner.cleanup()


def client(**settings) -> HandshakeClient:
    config = HandshakeSettings.model_validate(settings)
    return HandshakeClient(config, "routes.r.destination", config.problems(), secure=False)


async def open_with(url: str, handshake: HandshakeClient):
    async def open_(headers: dict[str, str]) -> int:
        async with handshake.session().get(url, headers=headers) as response:
            if response.status >= 400:
                raise HandshakeRefused(response.status, response.reason or "")
            return response.status

    return open_


async def test_a_refused_oauth_token_is_fetched_again_once(gate, tokens):
    url, seen = gate
    handshake = client(headers={"X-Team": "identity"}, oauth={"enabled": True, **tokens.settings})
    try:
        assert await handshake.connect("hub", "oauth.*", await open_with(url, handshake)) == 204
    finally:
        await handshake.close()
    assert seen == ["Bearer token-1", "Bearer token-2"]


async def test_a_refused_handshake_names_the_settings_to_check(gate):
    url, _ = gate
    handshake = client()
    try:
        with pytest.raises(PermanentError, match=r"hub: the server refused the connection: HTTP 401 .*check headers"):
            await handshake.connect("hub", "headers", await open_with(url, handshake))
    finally:
        await handshake.close()


async def test_an_unreachable_token_endpoint_is_a_lost_connection(gate):
    (port,) = free_ports(1)
    handshake = client(
        oauth={"enabled": True, "token-url": f"http://127.0.0.1:{port}/t", "client-id": "k", "client-secret": "s"}
    )
    try:
        with pytest.raises(ConnectionLost, match="OAuth token endpoint"):
            await handshake.connect("hub", "oauth.*", await open_with(gate[0], handshake))
    finally:
        await handshake.close()


def test_settings_problems_and_tls_are_reported_together(tmp_path):
    config = HandshakeSettings.model_validate(
        {"headers": {"bad name": "x"}, "tls": {"ca-file": str(tmp_path / "none.pem")}}
    )
    with pytest.raises(ConfigErrors) as caught:
        HandshakeClient(config, "routes.r.destination", config.problems(), secure=True)
    assert [error.path for error in caught.value.errors] == [
        "routes.r.destination.headers.bad name", "routes.r.destination.tls.ca-file",
    ]  # fmt: skip


def test_a_batch_lost_to_an_outage_is_unavailable():
    lost, permanent = ConnectionLost("gone"), PermanentError("bad")
    assert connection_outcome([None, None]) is None
    with pytest.raises(Unavailable, match="gone"):
        connection_outcome([lost, permanent, lost])
    assert connection_outcome([None, lost]) == [None, lost]  # one got through: not an outage
    assert connection_outcome([permanent]) == [permanent]
