"""A real aiohttp WebSocket server on 127.0.0.1 for the websocket sink's tests: it records every frame
with the path and handshake it arrived on, can require a header, and can be stopped and started
again on the same port."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

import orjson
import pytest
from aiohttp import WSMsgType, web
from multidict import CIMultiDict

from kete_core.testing import started_servers


@dataclass
class Frame:
    path: str
    data: str | bytes
    headers: CIMultiDict
    protocol: str | None

    def json(self):
        return orjson.loads(self.data)


@dataclass
class WsServer:
    """An aiohttp WebSocket server: ``frames`` in arrival order, ``handshakes`` (path, headers)."""

    protocols: tuple[str, ...] = ()
    require: dict[str, str] = field(default_factory=dict)
    """Header values a handshake must carry, else it is answered 401."""
    answer_pings: bool = True
    frames: list[Frame] = field(default_factory=list)
    handshakes: list[tuple[str, CIMultiDict]] = field(default_factory=list)
    port: int = 0
    ssl_context: ssl.SSLContext | None = None
    runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"{'wss' if self.ssl_context else 'ws'}://127.0.0.1:{self.port}"

    async def start(self) -> WsServer:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port, ssl_context=self.ssl_context).start()
        self.port = self.runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        headers = CIMultiDict(request.headers)
        self.handshakes.append((request.path_qs, headers))
        if any(headers.get(name) != value for name, value in self.require.items()):
            return web.Response(status=401, text="who are you?")
        ws = web.WebSocketResponse(protocols=self.protocols, autoping=self.answer_pings)
        await ws.prepare(request)
        async for message in ws:
            if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                self.frames.append(Frame(request.path_qs, message.data, headers, ws.ws_protocol))
        return ws


@pytest.fixture
async def start_server():
    """Start WebSocket servers: ``await start_server(**settings)``; stopped afterwards."""
    async with started_servers(lambda **settings: WsServer(**settings).start()) as start:
        yield start


@pytest.fixture
def sink_kind() -> str:
    """What ``make_sink`` builds (``make_sink`` and ``ev`` are ``tests/services/sink_fixtures.py``'s)."""
    return "websocket"
