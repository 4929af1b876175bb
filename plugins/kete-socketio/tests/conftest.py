"""A real python-socketio AsyncServer (Engine.IO v4) on aiohttp, on 127.0.0.1, for the socketio
sink's tests: it records every event with its name, namespace and handshake headers, acknowledges
it, can refuse connections, and can be stopped and started again on the same port."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from typing import Any

import pytest
import socketio
from aiohttp import web

from kete_core.testing import started_servers


@dataclass
class Received:
    name: str
    namespace: str
    data: Any
    headers: dict[str, str]


@dataclass
class SioServer:
    """python-socketio's AsyncServer on aiohttp; ``received`` in arrival order."""

    namespace: str = "/"
    path: str = "socket.io"
    require: dict[str, str] = field(default_factory=dict)
    """Handshake header values a connection must carry, else the connect handler refuses it."""
    stall: bool = False
    """Never acknowledge: each event handler waits forever."""
    received: list[Received] = field(default_factory=list)
    connects: int = 0
    port: int = 0
    ssl_context: ssl.SSLContext | None = None
    runner: web.AppRunner | None = None
    sio: socketio.AsyncServer | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{self.port}"

    async def start(self) -> SioServer:
        server = self.sio = socketio.AsyncServer(async_mode="aiohttp", always_connect=False)
        headers: dict[str, dict[str, str]] = {}

        async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
            request = environ["aiohttp.request"]
            given = {name: value for name, value in request.headers.items()}
            if any(request.headers.get(name) != value for name, value in self.require.items()):
                raise socketio.exceptions.ConnectionRefusedError("not authorized")
            self.connects += 1
            headers[sid] = given
            return True

        async def event(name: str, sid: str, *data: Any) -> Any:
            self.received.append(Received(name, self.namespace, data[0] if data else None, headers.get(sid, {})))
            if self.stall:
                await asyncio.Event().wait()
            return "ok"

        server.on("connect", connect, namespace=self.namespace)
        server.on("*", event, namespace=self.namespace)
        app = web.Application()
        server.attach(app, socketio_path=self.path)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port, ssl_context=self.ssl_context).start()
        self.port = self.runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self.sio is not None:
            await self.sio.shutdown()  # close the connections too, not only the listener
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    def ids(self) -> list[str]:
        return [item.data["id"] for item in self.received if isinstance(item.data, dict)]


@pytest.fixture
async def start_server():
    """Start Socket.IO servers: ``await start_server(**settings)``; stopped afterwards."""
    async with started_servers(lambda **settings: SioServer(**settings).start()) as start:
        yield start


@pytest.fixture
def sink_kind() -> str:
    """What ``make_sink`` builds (``make_sink`` and ``ev`` are ``tests/services/sink_fixtures.py``'s)."""
    return "socketio"
