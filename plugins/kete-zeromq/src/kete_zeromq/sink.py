"""``destination.kind = "zeromq"``: send each event as a ZeroMQ message; see the README for settings
and for what "delivered" means without acknowledgements."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import zmq
import zmq.asyncio

from kete_core import ConfigError, DeliveryResults, Message, PermanentError, Sink, SinkContext, Unavailable
from kete_zeromq.settings import ZeroMqSinkConfig

log = logging.getLogger("kete.zeromq")


class ZeroMqSink(Sink):
    """Hands each message to a PUB or PUSH socket; ZeroMQ acknowledges nothing.

    A message counts as delivered once the socket took it: for ``PUSH`` that is only possible
    while a PULL peer is connected (``ZMQ_IMMEDIATE``), queued for that peer within the high-water
    mark; when no peer takes a message within ``send-timeout-seconds`` the destination is
    :class:`~kete_core.errors.Unavailable` and kete waits. ``PUBLISH`` never waits: the socket drops
    what no subscriber asked for, as ZeroMQ's PUB does.
    """

    Config = ZeroMqSinkConfig
    config: ZeroMqSinkConfig

    def __init__(self, config: ZeroMqSinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        envelope = config.envelope.strip()
        self.envelope = context.address("envelope", envelope) if envelope else None
        self.curve: tuple[bytes, bytes, bytes] | None = None
        if config.authentication_type == "curve":
            try:
                self.curve = config.curve.keys()
            except ValueError as exc:
                setting, _, message = str(exc).partition(": ")
                raise ConfigError(message, path=f"{context.path}.{setting}") from None
            if not zmq.has("curve"):
                raise ConfigError(
                    "this libzmq has no CURVE support", path=f"{context.path}.authentication-type",
                    hint="install a pyzmq wheel (they bundle libzmq with libsodium)",
                )  # fmt: skip
        for name, ignored in (("headers", config.headers), ("tls", config.tls)):
            if ignored:
                log.warning("%s.%s: ZeroMQ messages have no %s; ignored, as in KETE", context.path, name, name)
        if config.pool:
            log.info("%s.pool: not needed by kete (one socket per route); ignored", context.path)
        if not config.encoding.identity:
            log.warning(
                "%s: content-encoding and content-transfer-encoding are not applied to ZeroMQ messages, as in KETE",
                context.path,
            )
        self.push = config.socket_type == "PUSH"
        self._context: zmq.asyncio.Context | None = None
        self._socket: zmq.asyncio.Socket | None = None
        self._sync: zmq.Socket[bytes] | None = None
        # Messages of a batch that raised Unavailable which the socket had taken: kete sends the same
        # batch again, and these are not sent twice.
        self._taken: dict[int, Message] = {}

    async def start(self) -> None:
        """Open the socket and bind or connect it, as KETE's check at start-up does."""
        self._open()

    def _open(self) -> zmq.Socket[bytes]:
        if self._sync is not None:
            return self._sync
        config = self.config
        self._context = self._context or zmq.asyncio.Context()
        sock = self._context.socket(zmq.PUSH if self.push else zmq.PUB)
        sock.setsockopt(zmq.LINGER, config.linger)
        sock.setsockopt(zmq.SNDHWM, config.send_high_water_mark)
        if self.push:
            # Queue only for peers that are connected: with none, sending waits and kete holds the events.
            sock.setsockopt(zmq.IMMEDIATE, 1)
        if self.curve is not None:
            sock.curve_serverkey, sock.curve_publickey, sock.curve_secretkey = self.curve
        try:
            if config.connection_mode == "BIND":
                sock.bind(config.endpoint)
            else:
                sock.connect(config.endpoint)
        except zmq.ZMQError as exc:
            sock.close(0)
            verb = "bind to" if config.connection_mode == "BIND" else "connect to"
            raise Unavailable(f"cannot {verb} the ZeroMQ endpoint {config.endpoint}: {exc}") from None
        self._socket = sock
        self._sync = zmq.Socket.shadow(sock.underlying)
        log.info(
            "route '%s': %s socket %s %s",
            self.context.route, "PUSH" if self.push else "PUB",
            "bound to" if config.connection_mode == "BIND" else "connecting to", config.endpoint,
        )  # fmt: skip
        return self._sync

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        sock = self._open()
        results: list[BaseException | None] = [None] * len(messages)
        envelopes = self.envelope.render_all([m.event for m in messages]) if self.envelope is not None else None
        taken = self._taken
        sent = 0
        noblock, more = zmq.NOBLOCK, zmq.NOBLOCK | zmq.SNDMORE
        for index, message in enumerate(messages):
            if taken and taken.get(id(message)) is message:
                continue
            envelope: bytes | None = None
            if envelopes is not None:
                rendered = envelopes[index]
                if isinstance(rendered, PermanentError):
                    results[index] = rendered
                    continue
                envelope = rendered.encode()
            while True:
                try:
                    if envelope is None:
                        sock.send(message.payload, noblock)
                    else:
                        sock.send(envelope, more)  # the rest of a multipart message never blocks
                        sock.send(message.payload, noblock)
                    break
                except zmq.Again:
                    if not await self._writable():
                        for earlier, result in zip(messages[:index], results, strict=False):
                            if result is None:
                                taken[id(earlier)] = earlier
                        raise Unavailable(
                            f"no ZeroMQ peer took a message at {self.config.endpoint} within "
                            f"{self.config.send_timeout_seconds:g} s ({sent} of {len(messages)} sent)"
                        ) from None
            sent += 1
        taken.clear()
        return results if any(result is not None for result in results) else None

    async def _writable(self) -> bool:
        """Wait until the socket can take a message, for at most ``send-timeout-seconds``."""
        assert self._socket is not None
        deadline = time.monotonic() + self.config.send_timeout_seconds
        while (left := deadline - time.monotonic()) > 0:
            # pyzmq types _AsyncSocket.poll without its flags argument, which it has.
            if await self._socket.poll(max(1, int(left * 1000)), zmq.POLLOUT):  # type: ignore[call-arg]
                return True
        return False

    async def close(self) -> None:
        sock, self._socket, self._sync = self._socket, None, None
        if sock is not None:
            # Linger: what the socket still queues may go out for up to `linger` ms.
            await asyncio.to_thread(sock.close, self.config.linger)
        if self._context is not None:
            self._context.term()
            self._context = None
