"""``destination.kind = "websocket"``: each event as one text (or binary) frame on a connection kept
open per URL; see the README for settings.

The URL is a template: events of one batch are grouped by their URL, and each group's frames go
out back to back, then one ping whose pong confirms them all (see :mod:`kete_websocket.connection`).
A connection that cannot be opened or is lost before the confirmation fails its group; when no
event of the batch got through for that reason, the batch raises :class:`~kete_core.Unavailable`
(kete waits and keeps spooling) and the next batch opens a new connection. A refused handshake
(401, 403, another 4xx) is a :class:`~kete_core.PermanentError` naming the status.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import aiohttp
from yarl import URL

from kete_core import (
    ConfigError,
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
    url_template,
    url_value,
)
from kete_websocket.connection import Connection
from kete_websocket.settings import WebSocketSinkConfig

log = logging.getLogger("kete.websocket")

# Connections kept open at once (one per rendered URL); the oldest is closed beyond this.
_OPEN_LIMIT = 256
_HINT = "destination.headers and oauth.*"


class WebSocketSink(Sink):
    """Sends each message's payload as one frame; see the module documentation."""

    Config = WebSocketSinkConfig
    config: WebSocketSinkConfig

    def __init__(self, config: WebSocketSinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        target = config.target()
        secure = target.lower().startswith("wss://")
        self.handshake = HandshakeClient(config, context.path, config.problems(), secure=secure)
        setting = "url" if config.url else "host"
        try:
            self.url = context.address(setting, url_template(target), url_value)
        except ValueError as exc:
            raise ConfigError(f"not a URL: {redact(str(exc))}", path=f"{context.path}.{setting}") from None
        self._timeout = config.connection_timeout_seconds
        self._opcode = aiohttp.WSMsgType.BINARY if config.binary_mode else aiohttp.WSMsgType.TEXT
        self._open: dict[str, Connection] = {}

    async def start(self) -> None:
        self.handshake.session()

    async def close(self) -> None:
        connections, self._open = list(self._open.values()), {}
        await asyncio.gather(*(connection.close() for connection in connections))
        await self.handshake.close()

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        urls = self.url.render_all([message.event for message in messages])
        first = urls[0] if urls else None
        if isinstance(first, str) and urls.count(first) == len(urls):  # one URL for all: nothing to group
            outcome = await self._deliver(first, messages)
            return connection_outcome(outcome if isinstance(outcome, list) else [outcome] * len(messages))
        results: list[BaseException | None] = [None] * len(messages)
        groups: dict[str, list[int]] = {}
        for index, rendered in enumerate(urls):
            if isinstance(rendered, RenderError):
                results[index] = rendered
            else:
                groups.setdefault(rendered, []).append(index)
        deliveries = (self._deliver(url, [messages[i] for i in group]) for url, group in groups.items())
        outcomes = await asyncio.gather(*deliveries)
        for group, outcome in zip(groups.values(), outcomes, strict=True):
            for position, index in enumerate(group):
                results[index] = outcome[position] if isinstance(outcome, list) else outcome
        return connection_outcome(results)

    async def _deliver(self, url: str, messages: Sequence[Message]) -> list[BaseException | None] | BaseException:
        """Send *messages* to *url* and confirm them: one error for all, or one result each."""
        payloads = [message.payload for message in messages]
        frames: Sequence[bytes | PermanentError]
        sendable: list[bytes]
        if self.config.binary_mode or all(map(bytes.isascii, payloads)):  # ASCII is UTF-8: no decoding
            frames = sendable = payloads
        else:
            frames = [self._frame(message) for message in messages]
            sendable = [frame for frame in frames if isinstance(frame, bytes)]
        try:
            connection = await self._connection(url)
            await connection.send_all(sendable, self._opcode, self._timeout)
        except (ConnectionLost, PermanentError) as exc:
            self._open.pop(url, None)
            return exc
        except Exception as exc:  # a bug must fail this group only, not the other URLs of the batch
            log.exception("websocket sink: unexpected failure")
            return exc
        if frames is sendable:
            return [None] * len(messages)
        return [frame if isinstance(frame, PermanentError) else None for frame in frames]

    def _frame(self, message: Message) -> bytes | PermanentError:
        """A text frame's bytes, which must be UTF-8."""
        payload = message.payload
        try:
            payload.decode()
            return payload
        except UnicodeDecodeError:
            return PermanentError(
                f"{message.event!r}: the {message.content_type} payload is not UTF-8 text; set binary-mode = true"
            )

    async def _connection(self, url: str) -> Connection:
        connection = self._open.get(url)
        if connection is not None and connection.lost is None:
            return connection
        try:
            parsed = URL(url, encoded=True)
        except ValueError as exc:
            raise PermanentError(f"rendered URL {redact(url)!r} is not a URL: {redact(str(exc))}") from None
        if parsed.scheme not in ("ws", "wss") or not parsed.raw_host or "%" in parsed.raw_host:
            raise PermanentError(f"rendered URL {redact(url)!r} is not an absolute ws(s) URL")
        shown = redact(url)

        async def open_(headers: dict[str, str]) -> aiohttp.ClientWebSocketResponse:
            session = self.handshake.session()
            protocols = self.config.subprotocol
            try:
                connecting = session.ws_connect(
                    parsed, protocols=protocols, headers=headers, autoping=False, max_msg_size=0
                )
                return await asyncio.wait_for(connecting, self._timeout)
            except aiohttp.WSServerHandshakeError as exc:
                raise HandshakeRefused(exc.status, exc.message) from None
            except TimeoutError:
                raise ConnectionLost(f"{shown}: no handshake within {self._timeout:g}s") from None
            except (aiohttp.ClientError, OSError) as exc:
                raise ConnectionLost(redact(f"{url}: {type(exc).__name__}: {exc}")) from None

        ws = await self.handshake.connect(shown, _HINT, open_)
        if len(self._open) >= _OPEN_LIMIT:
            oldest = next(iter(self._open))
            await self._open.pop(oldest).close()
        connection = self._open[url] = Connection(ws, shown, self.config.connection_lost_timeout_seconds)
        return connection
