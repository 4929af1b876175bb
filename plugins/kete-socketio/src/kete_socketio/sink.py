"""``destination.kind = "socketio"``: each event emitted as one Socket.IO event on a connection kept
open across batches; see the README for settings.

JSON payloads are emitted as objects (KETE's ``JSONObject``), others as text. A batch's events are
emitted back to back, each with an acknowledgement callback, and the batch waits for all the
acknowledgements: an event counts as delivered when the server acknowledged it. A connection that
cannot be opened, or is lost before the acknowledgements, fails the events still waiting; when no
event of the batch got through, the batch raises :class:`~kete_core.Unavailable` and the next batch
connects again. A server that refuses the connection (its connect handler, or 401/403) fails the
events with a :class:`~kete_core.PermanentError` carrying its message.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
from collections.abc import Sequence
from typing import Any

import aiohttp
import engineio
import orjson
import socketio

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
from kete_socketio.settings import SocketIoSinkConfig

log = logging.getLogger("kete.socketio")

_HINT = "destination.headers and oauth.*"
_CONNECT_ERRORS = (socketio.exceptions.ConnectionError, engineio.exceptions.EngineIOError, aiohttp.ClientError, OSError)


class _Connection:
    """One connected Socket.IO client; ``gone`` resolves when it disconnects."""

    def __init__(self, client: socketio.AsyncClient) -> None:
        self.client = client
        self.gone: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def lose(self, reason: str) -> None:
        if not self.gone.done():
            self.gone.set_result(reason)


def _acknowledged(waiter: asyncio.Future[None], *_answer: Any) -> None:
    if not waiter.done():
        waiter.set_result(None)


class SocketIoSink(Sink):
    """Emits each message's payload as one Socket.IO event; see the module documentation."""

    Config = SocketIoSinkConfig
    config: SocketIoSinkConfig

    def __init__(self, config: SocketIoSinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        self._url = config.url.strip()
        secure = self._url.lower().startswith(("https://", "wss://"))
        self.handshake = HandshakeClient(config, context.path, config.problems(), secure=secure)
        self.event_name = context.address("event-name", config.event_name.strip())
        self._shown = redact(self._url) + config.namespace_path
        self._connection: _Connection | None = None

    async def start(self) -> None:
        self.handshake.session()

    async def close(self) -> None:
        await self._drop()
        await self.handshake.close()

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.lose("closed by kete")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.client.disconnect(), 2)

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        results: list[BaseException | None] = [None] * len(messages)
        pending: list[tuple[int, str, Any]] = []
        for index, name in enumerate(self.event_name.render_all([message.event for message in messages])):
            if isinstance(name, RenderError):
                results[index] = name
            else:
                pending.append((index, name, self._data(messages[index])))
        if pending:
            try:
                connection = await self._connect()
                outcomes = await self._emit(connection, [(name, data) for _, name, data in pending])
            except (ConnectionLost, PermanentError) as exc:
                outcomes = [exc] * len(pending)
            for (index, _, _), outcome in zip(pending, outcomes, strict=True):
                results[index] = outcome
        return connection_outcome(results)

    @staticmethod
    def _data(message: Message) -> Any:
        """What is emitted: a JSON object as an object (as KETE's ``JSONObject``), else the text."""
        payload = message.payload
        if "json" in message.content_type:
            with contextlib.suppress(orjson.JSONDecodeError):
                value = orjson.loads(payload)
                if isinstance(value, dict):
                    return value
        try:
            return payload.decode()
        except UnicodeDecodeError:
            return payload  # sent as a binary attachment

    async def _emit(self, connection: _Connection, items: list[tuple[str, Any]]) -> list[BaseException | None]:
        client = connection.client
        namespace = self.config.namespace_path
        loop = asyncio.get_running_loop()
        waiters: list[asyncio.Future[None]] = []
        try:
            for name, data in items:
                if connection.gone.done():
                    break
                waiter = loop.create_future()
                callback = functools.partial(_acknowledged, waiter) if self.config.ack else None
                await client.emit(name, data, namespace=namespace, callback=callback)
                if not self.config.ack:
                    waiter.set_result(None)
                waiters.append(waiter)
        except (socketio.exceptions.SocketIOError, ConnectionError, aiohttp.ClientError) as exc:
            connection.lose(f"{type(exc).__name__}: {exc}")
        # Cancelling this wait leaves the waiters alone: one not done is an event not acknowledged.
        acknowledged = asyncio.ensure_future(asyncio.wait(waiters)) if waiters else None
        watched = [connection.gone] if acknowledged is None else [connection.gone, acknowledged]
        try:
            await asyncio.wait(watched, timeout=self.config.timeout_seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if acknowledged is not None:
                acknowledged.cancel()
        if not all(waiter.done() for waiter in waiters) or len(waiters) < len(items):
            if not connection.gone.done():
                connection.lose(f"no acknowledgement within {self.config.timeout_seconds:g}s")
            await self._drop()
            reason = connection.gone.result()
            lost = ConnectionLost(f"{self._shown}: {reason}")
            return [None if waiter.done() else lost for waiter in waiters] + [lost] * (len(items) - len(waiters))
        return [None] * len(items)

    async def _connect(self) -> _Connection:
        connection = self._connection
        if connection is not None and not connection.gone.done() and connection.client.connected:
            return connection
        await self._drop()
        self._connection = await self.handshake.connect(self._shown, _HINT, self._open)
        return self._connection

    async def _open(self, headers: dict[str, str]) -> _Connection:
        timeout = self.config.timeout_seconds
        client = socketio.AsyncClient(
            reconnection=False, handle_sigint=False, http_session=self.handshake.session(), request_timeout=timeout
        )
        connection = _Connection(client)
        namespace = self.config.namespace_path
        refusals: list[Any] = []
        client.on("connect_error", refusals.append, namespace=namespace)
        client.on("disconnect", lambda *_: connection.lose("the server closed the connection"), namespace=namespace)
        try:
            await client.connect(
                self._url, headers=headers, namespaces=[namespace], socketio_path=self.config.path, wait_timeout=timeout
            )
        except (
            socketio.exceptions.ConnectionError,
            engineio.exceptions.EngineIOError,
            aiohttp.ClientError,
            OSError,
        ) as exc:
            with contextlib.suppress(Exception):
                await client.disconnect()
            if client.failed_namespaces:  # the server's connect handler said no (CONNECT_ERROR)
                reasons = [data["message"] for data in refusals if isinstance(data, dict) and "message" in data]
                reason = reasons[0] if reasons else str(exc)
                raise PermanentError(
                    f"{self._shown}: the server refused the connection: {reason} (check {_HINT})"
                ) from None
            status = re.search(r"status code (\d{3})", str(exc))
            if status:
                raise HandshakeRefused(int(status.group(1)), str(exc)) from None
            raise ConnectionLost(f"{self._shown}: {exc}") from None
        return connection
