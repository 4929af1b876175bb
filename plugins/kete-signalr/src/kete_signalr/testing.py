"""A SignalR hub on aiohttp for tests and benchmarks, speaking what ASP.NET Core's hubs speak to
clients: negotiate (negotiateVersion 1), the WebSocket transport, the JSON protocol handshake,
invocations answered by completions, pings, close. It records every invocation with the handshake
headers of its connection, can require a header, fail unknown methods, withhold completions, and be
stopped and started again on the same port.
"""

from __future__ import annotations

import ssl
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import WSMsgType, web
from multidict import CIMultiDict

RS = "\x1e"


@dataclass
class Invocation:
    target: str
    arguments: list[Any]
    headers: CIMultiDict

    def json(self) -> Any:
        return orjson.loads(self.arguments[0])


@dataclass
class Hub:
    """A hub at ``/hubs/events``; ``invocations`` in arrival order."""

    methods: tuple[str, ...] | None = None
    """The hub's methods (None: any); invoking another gets an error completion, as ASP.NET Core answers."""
    require: dict[str, str] = field(default_factory=dict)
    """Header values negotiate and the WebSocket must carry, else 401."""
    complete: bool = True
    redirect: tuple[str, str] | None = None
    """(hub URL, access token): negotiate answers with this redirect, as Azure SignalR Service does."""
    invocations: list[Invocation] = field(default_factory=list)
    negotiations: list[CIMultiDict] = field(default_factory=list)
    pings: int = 0
    port: int = 0
    ssl_context: ssl.SSLContext | None = None
    runner: web.AppRunner | None = None
    sockets: set[web.WebSocketResponse] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{self.port}/hubs/events"

    def ids(self) -> list[str]:
        return [call.json()["id"] for call in self.invocations]

    async def start(self) -> Hub:
        app = web.Application()
        app.router.add_post("/hubs/events/negotiate", self._negotiate)
        app.router.add_get("/hubs/events", self._connect)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port, ssl_context=self.ssl_context).start()
        self.port = self.runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        for ws in list(self.sockets):
            await ws.close()
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    def _refused(self, request: web.Request) -> bool:
        return any(request.headers.get(name) != value for name, value in self.require.items())

    async def _negotiate(self, request: web.Request) -> web.Response:
        self.negotiations.append(CIMultiDict(request.headers))
        if self._refused(request):
            return web.Response(status=401)
        assert request.query.get("negotiateVersion") == "1"
        if self.redirect is not None:
            return web.json_response({"url": self.redirect[0], "accessToken": self.redirect[1]})
        token = uuid.uuid4().hex
        self.tokens.add(token)
        return web.json_response({
            "connectionId": uuid.uuid4().hex, "connectionToken": token, "negotiateVersion": 1,
            "availableTransports": [{"transport": "WebSockets", "transferFormats": ["Text", "Binary"]}],
        })  # fmt: skip

    async def _connect(self, request: web.Request) -> web.StreamResponse:
        if self._refused(request):
            return web.Response(status=401)
        if request.query.get("id") not in self.tokens:
            return web.Response(status=404, text="No Connection with that ID")
        headers = CIMultiDict(request.headers)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.add(ws)
        handshaken = False
        try:
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    continue
                for part in message.data.split(RS):
                    if not part:
                        continue
                    record = orjson.loads(part)
                    if not handshaken:
                        ok = record == {"protocol": "json", "version": 1}
                        await ws.send_str(("{}" if ok else '{"error":"unsupported protocol"}') + RS)
                        handshaken = True
                    elif record.get("type") == 1:
                        await self._invoke(ws, record, headers)
                    elif record.get("type") == 6:
                        self.pings += 1
                    elif record.get("type") == 7:
                        await ws.close()
        finally:
            self.sockets.discard(ws)
        return ws

    async def _invoke(self, ws: web.WebSocketResponse, record: dict[str, Any], headers: CIMultiDict) -> None:
        target, invocation_id = record["target"], record.get("invocationId")
        if self.methods is not None and target not in self.methods:
            error = f"Failed to invoke '{target}' due to an error on the server. HubException: Method does not exist."
            await ws.send_str(orjson.dumps({"type": 3, "invocationId": invocation_id, "error": error}).decode() + RS)
            return
        self.invocations.append(Invocation(target, record["arguments"], headers))
        if invocation_id is not None and self.complete:
            await ws.send_str(orjson.dumps({"type": 3, "invocationId": invocation_id, "result": None}).decode() + RS)
