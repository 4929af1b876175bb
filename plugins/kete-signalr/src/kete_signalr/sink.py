"""``destination.kind = "signalr"``: each event invokes a hub method (``hub-method``, a template) with
the payload as its one string argument, over a connection kept open across batches; see the README.

A batch's invocations are pipelined (written back to back, in few frames) and the batch waits for
their completions: an event counts as delivered when the hub completed its invocation. The
connection is set up as ASP.NET Core's clients do it: ``POST <url>/negotiate?negotiateVersion=1``
(following an Azure SignalR Service redirect), a WebSocket to ``<url>?id=<connectionToken>``, the
JSON protocol handshake. A hub that cannot be reached makes the batch raise
:class:`~kete_core.Unavailable`; a refused negotiate or handshake (401, 403) is a
:class:`~kete_core.PermanentError` naming the status.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import aiohttp
import orjson
from yarl import URL

from kete_core import (
    ConnectionLost,
    DeliveryResults,
    HandshakeClient,
    HandshakeRefused,
    Message,
    PermanentError,
    RenderError,
    Sink,
    SinkContext,
    connection_outcome,
    redact,
)
from kete_signalr.protocol import HANDSHAKE, HubConnection, records
from kete_signalr.settings import SignalRSinkConfig

log = logging.getLogger("kete.signalr")

# Azure SignalR Service answers negotiate with a redirect to itself; more than this is a loop.
_REDIRECTS = 10
_HINT = "access-token, destination.headers and oauth.*"


class SignalRSink(Sink):
    """Invokes the hub method once per message; see the module documentation."""

    Config = SignalRSinkConfig
    config: SignalRSinkConfig

    def __init__(self, config: SignalRSinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        secure = config.url.strip().lower().startswith("https://")
        bearer = config.access_token.get_secret_value() if config.access_token else None
        self.handshake = HandshakeClient(config, context.path, config.problems(), secure=secure, bearer=bearer)
        self.hub_method = context.address("hub-method", config.hub_method.strip())
        self._url = URL(config.url.strip())
        self._shown = redact(str(self._url))
        self._connection: HubConnection | None = None

    async def start(self) -> None:
        self.handshake.session()

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()
        await self.handshake.close()

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        results: list[BaseException | None] = [None] * len(messages)
        calls: list[tuple[int, str, str]] = []
        for index, target in enumerate(self.hub_method.render_all([message.event for message in messages])):
            if isinstance(target, RenderError):
                results[index] = target
                continue
            try:
                calls.append((index, target, messages[index].payload.decode()))
            except UnicodeDecodeError:
                results[index] = PermanentError(
                    f"{messages[index].event!r}: the payload is not UTF-8 text, and a hub method takes a string"
                )
        if calls:
            try:
                connection = await self._connect()
                outcomes = await connection.invoke([(t, a) for _, t, a in calls], self.config.timeout_seconds)
            except (ConnectionLost, PermanentError) as exc:
                outcomes = [exc] * len(calls)
            for (index, _, _), outcome in zip(calls, outcomes, strict=True):
                results[index] = outcome
        return connection_outcome(results)

    async def _connect(self) -> HubConnection:
        if self._connection is None or self._connection.lost is not None:
            self._connection = await self.handshake.connect(self._shown, _HINT, self._open)
        return self._connection

    async def _open(self, headers: dict[str, str]) -> HubConnection:
        session = self.handshake.session()
        url, connection_token, headers = await self._negotiate(session, self._url, headers)
        socket_url = url.with_scheme("wss" if url.scheme == "https" else "ws").update_query(id=connection_token)
        timeout = self.config.timeout_seconds
        try:
            ws = await asyncio.wait_for(session.ws_connect(socket_url, headers=headers, max_msg_size=0), timeout)
        except aiohttp.WSServerHandshakeError as exc:
            raise HandshakeRefused(exc.status, exc.message) from None
        except TimeoutError:
            raise ConnectionLost(f"{self._shown}: no WebSocket handshake within {timeout:g}s") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise ConnectionLost(redact(f"{self._shown}: {type(exc).__name__}: {exc}")) from None
        try:
            await ws.send_str(HANDSHAKE.decode())
            answer = await ws.receive(timeout)
            if answer.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                raise ConnectionLost(f"{self._shown}: the hub closed the connection during the handshake")
            data = answer.data.encode() if isinstance(answer.data, str) else answer.data
            [handshake, *_] = records(data) or [{}]
        except (TimeoutError, aiohttp.ClientError, ConnectionError, ValueError) as exc:
            await ws.close()
            raise ConnectionLost(f"{self._shown}: the hub protocol handshake failed: {type(exc).__name__}") from None
        except ConnectionLost:
            await ws.close()
            raise
        if handshake.get("error"):
            await ws.close()
            raise PermanentError(f"{self._shown}: the hub refused the protocol handshake: {handshake['error']}")
        return HubConnection(ws, self._shown, self.config.keep_alive_seconds)

    async def _negotiate(
        self, session: aiohttp.ClientSession, url: URL, headers: dict[str, str]
    ) -> tuple[URL, str, dict[str, str]]:
        """The hub URL, connection token and headers to connect with, after any redirects."""
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_seconds)
        for _ in range(_REDIRECTS):
            negotiate = url.with_path(url.path.rstrip("/") + "/negotiate").update_query(negotiateVersion=1)
            try:
                async with session.post(negotiate, headers=headers, timeout=timeout) as response:
                    body = await response.read()
                    if response.status != 200:
                        raise HandshakeRefused(response.status, body[:200].decode(errors="replace"))
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                raise ConnectionLost(redact(f"{self._shown}: negotiate: {type(exc).__name__}: {exc}")) from None
            try:
                answer = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise PermanentError(f"{self._shown}: negotiate answered something that is not JSON") from None
            if answer.get("error"):
                raise PermanentError(f"{self._shown}: negotiate: {answer['error']}")
            if answer.get("url"):  # Azure SignalR Service: connect there, with its token
                url = URL(answer["url"])
                if answer.get("accessToken"):
                    headers = headers | {"Authorization": f"Bearer {answer['accessToken']}"}
                continue
            transports = {item.get("transport") for item in answer.get("availableTransports") or []}
            if "WebSockets" not in transports:
                raise PermanentError(f"{self._shown}: the hub offers no WebSockets transport ({sorted(transports)})")
            connection_token = answer.get("connectionToken") or answer.get("connectionId")
            return url, str(connection_token), headers
        raise PermanentError(f"{self._shown}: negotiate redirected more than {_REDIRECTS} times")
