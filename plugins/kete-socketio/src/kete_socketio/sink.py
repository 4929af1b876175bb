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
from collections.abc import Sequence
from typing import Any

import aiohttp
import engineio
import orjson
import socketio

from kete_core import (
    DeliveryResults,
    Message,
    PermanentError,
    RenderError,
    Sink,
    SinkContext,
    TokenError,
    TokenProvider,
    Unavailable,
    checked_client_ssl,
    redact,
)
from kete_socketio.settings import SocketIoSinkConfig

log = logging.getLogger("kete.socketio")


class ConnectionLost(Exception):
    """The server could not be reached, or the connection closed before it acknowledged."""


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
        self._ssl = checked_client_ssl(config.tls, context.path, config.problems(), secure=secure)
        self.event_name = context.address("event-name", config.event_name.strip())
        self._shown = redact(self._url) + config.namespace_path
        self._headers = {name: value.strip() for name, value in config.headers.items() if value.strip()}
        self._oauth = TokenProvider(config.oauth) if config.oauth_active else None
        self._session: aiohttp.ClientSession | None = None
        self._connection: _Connection | None = None

    async def start(self) -> None:
        self._client()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self._ssl))
        return self._session

    async def close(self) -> None:
        await self._drop()
        if self._session is not None:
            await self._session.close()
            self._session = None

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
        if not any(results):
            return None
        down = [error for error in results if isinstance(error, ConnectionLost)]
        if (
            down
            and len(down) == len(pending)
            and all(isinstance(error, ConnectionLost | PermanentError) for error in results)
        ):
            raise Unavailable(str(down[0]))
        return results

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
        session = self._client()
        headers = dict(self._headers)
        if self._oauth is not None:
            try:
                headers["Authorization"] = f"Bearer {await self._oauth.token(session)}"
            except TokenError as exc:
                raise ConnectionLost(str(exc)) from exc
        timeout = self.config.timeout_seconds
        client = socketio.AsyncClient(
            reconnection=False, handle_sigint=False, http_session=session, request_timeout=timeout
        )
        connection = _Connection(client)
        namespace = self.config.namespace_path
        refusals: list[Any] = []
        client.on("connect_error", refusals.append, namespace=namespace)
        client.on("disconnect", lambda *_: connection.lose("the server closed the connection"), namespace=namespace)
        try:
            await client.connect(
                self._url,
                headers=headers,
                namespaces=[namespace],
                socketio_path=self.config.path,
                wait_timeout=timeout,
            )
        except (
            socketio.exceptions.ConnectionError,
            engineio.exceptions.EngineIOError,
            aiohttp.ClientError,
            OSError,
        ) as exc:
            refused = self._refusal(client, refusals, exc)
            with contextlib.suppress(Exception):
                await client.disconnect()
            if refused is not None:
                raise PermanentError(f"{self._shown}: the server refused the connection: {refused}") from None
            raise ConnectionLost(f"{self._shown}: {exc}") from None
        self._connection = connection
        return connection

    @staticmethod
    def _refusal(client: socketio.AsyncClient, refusals: list[Any], error: Exception) -> str | None:
        """The server's reason when it refused the connection (rather than being out of reach)."""
        text = str(error)
        hint = " (check destination.headers and oauth.*)"
        if client.failed_namespaces:  # the server's connect handler said no (CONNECT_ERROR)
            reasons = [data["message"] for data in refusals if isinstance(data, dict) and "message" in data]
            return (reasons[0] if reasons else text) + hint
        if "status code 401" in text or "status code 403" in text:
            return text + hint
        return None
