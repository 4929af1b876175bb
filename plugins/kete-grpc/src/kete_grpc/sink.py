"""``destination.kind = "grpc"``: one unary call per event to ``/<service>/<method>``; see the README.

As KETE's grpc destination: the payload (after ``content-encoding`` and ``content-transfer-encoding``)
is the request message as raw bytes (an identity marshaller, no protobuf framing of kete's own), the
answer is read and ignored, custom metadata and KETE's ``eventkind``, ``eventtype`` and ``contenttype``
go with each call, and at start a probe call with an empty message must not fail with ``UNAVAILABLE``
or ``DEADLINE_EXCEEDED`` (any other answer proves the server is there).

One channel (one HTTP/2 connection) per route stays open across batches; the calls of a batch are in
flight together (``max-concurrency``). A call counts as delivered when the server answers ``OK``.
``UNAVAILABLE`` and ``DEADLINE_EXCEEDED`` on every call of a batch make the route wait for the server
(:class:`~kete_core.Unavailable`); ``RESOURCE_EXHAUSTED`` (also a message over the server's size limit),
``ABORTED``, ``INTERNAL``, ``UNKNOWN``, ``CANCELLED`` and ``DATA_LOSS`` fail the event for the route's
retries; any other status fails it permanently.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

import grpc
import grpc.aio

from kete_core import (
    ConfigError,
    ConfigErrors,
    DeliveryResults,
    Message,
    PermanentError,
    RenderError,
    Sink,
    SinkContext,
    Unavailable,
    load_tls,
    user_agent,
)
from kete_grpc.channel import DOWN, describe, open_channel, tls_credentials
from kete_grpc.settings import GrpcSinkConfig

log = logging.getLogger("kete.grpc")

# A service or method name, as a template variable's value may fill it.
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_ASCII_VALUE = re.compile(r"^[\x20-\x7e]*$")
_CACHE_LIMIT = 10_000
# RESOURCE_EXHAUSTED is not "down": a server sends it for one message over its size limit, which waiting
# for the server would never get through.
_TRANSIENT = frozenset({
    grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.ABORTED, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.CANCELLED, grpc.StatusCode.DATA_LOSS,
})  # fmt: skip
_REFUSED = {
    grpc.StatusCode.UNAUTHENTICATED: "the server refused kete's credentials",
    grpc.StatusCode.PERMISSION_DENIED: "the server denied kete the call",
}
_REFUSED_HINT = "check the 'headers.authorization' metadata, or the client certificate (tls.key-store, tls.cert-file)"

_USER_AGENT = user_agent("kete-grpc")

Call = Callable[..., Any]


class GrpcError(Exception):
    """A call that failed with a gRPC status a later attempt may not meet again.

    :ivar code: the status code.
    """

    def __init__(self, message: str, code: grpc.StatusCode) -> None:
        super().__init__(message)
        self.code = code

    @property
    def down(self) -> bool:
        """The server as a whole is unreachable, too slow or out of resources, not just for this event."""
        return self.code in DOWN


def _name_value(value: str) -> str:
    """A variable's value as part of a service or method name: letters, digits, ``_``, ``.`` and ``-``."""
    if not _NAME.match(value):
        raise ValueError("a gRPC service or method name holds only letters, digits, '_', '.' and '-'")
    return value


class GrpcSink(Sink):
    """Makes one unary call per message; see the module documentation."""

    Config = GrpcSinkConfig
    config: GrpcSinkConfig

    def __init__(self, config: GrpcSinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        errors = [ConfigError(message, path=f"{context.path}.{setting}") for setting, message in config.problems()]
        # KETE reads the TLS material even when it is not used, so a bad store fails the route at load.
        try:
            material = load_tls(config.tls, f"{context.path}.tls")
        except ConfigErrors as exc:
            errors += exc.errors
        if errors:
            raise ConfigErrors(errors)
        self._service = context.address("service", config.service.strip(), _name_value)
        self._method = context.address("method", config.method.strip(), _name_value)
        self._path: str | None = None
        if not (self._service.variables or self._method.variables):
            self._path = f"/{config.service.strip()}/{config.method.strip()}"
        self._metadata = config.metadata()
        self._encoding = config.encoding
        self._credentials: grpc.ChannelCredentials | None = None
        if config.use_plaintext:
            if config.tls.enabled:
                log.warning("grpc sink %s: use-plaintext and tls.enabled are both set; plaintext wins, as in KETE",
                            context.path)  # fmt: skip
        else:
            if not config.tls.verify_hostname:
                log.warning("grpc sink %s: tls.verify-hostname = false is ignored: gRPC always checks the host "
                            "name (so did KETE's OkHttp transport)", context.path)  # fmt: skip
            self._credentials = tls_credentials(material)
        self._channel: grpc.aio.Channel | None = None
        self._calls: dict[str, Call] = {}

    # ------------------------------------------------------------------ channel

    def _open(self) -> grpc.aio.Channel:
        if self._channel is None:
            self._channel = open_channel(self.config.target, self._credentials, _USER_AGENT)
            self._calls = {}
        return self._channel

    def _call(self, path: str) -> Call:
        call = self._calls.get(path)
        if call is None:
            if len(self._calls) >= _CACHE_LIMIT:
                self._calls.clear()
            # No serializers: the request and the answer are bytes as they are (KETE's identity marshaller).
            call = self._calls[path] = self._open().unary_unary(path)
        return call

    async def start(self) -> None:
        self._open()
        timeout = self.config.timeout_seconds
        if self._path is None:
            # A templated name has no value before an event: wait for the connection instead of a probe call.
            try:
                await asyncio.wait_for(self._open().channel_ready(), timeout)
            except TimeoutError:
                raise Unavailable(f"{self.config.target}: no connection within {timeout:g}s") from None
            return
        try:
            await self._call(self._path)(b"", timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in DOWN:
                raise Unavailable(describe(self._path, exc)) from None
            # Any other answer proves the server is there, as KETE's probe decides.

    async def close(self) -> None:
        if self._channel is not None:
            channel, self._channel = self._channel, None
            await channel.close()

    # ------------------------------------------------------------------ sending

    def _paths(self, messages: Sequence[Message]) -> list[str | RenderError]:
        if self._path is not None:
            return [self._path] * len(messages)
        events = [message.event for message in messages]
        services = self._service.render_all(events)
        methods = self._method.render_all(events)
        return [
            service if isinstance(service, RenderError) else method if isinstance(method, RenderError)
            else f"/{service}/{method}"
            for service, method in zip(services, methods, strict=True)
        ]  # fmt: skip

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        results: list[BaseException | None] = [None] * len(messages)
        paths = self._paths(messages)
        jobs: list[tuple[int, str]] = []
        for index, path in enumerate(paths):
            if isinstance(path, RenderError):
                results[index] = path
            else:
                jobs.append((index, path))
        pending = iter(jobs)
        down: GrpcError | None = None

        async def worker() -> None:
            nonlocal down
            for index, path in pending:
                if down is not None:
                    # Spare the rest of the batch the calls to a server that is down; the route retries them.
                    results[index] = down
                    continue
                error = results[index] = await self._deliver(path, messages[index])
                if isinstance(error, GrpcError) and error.down and down is None:
                    down = error

        count = min(self.config.max_concurrency, len(jobs))
        if count == 1:
            await worker()
        elif count:
            await asyncio.gather(*(worker() for _ in range(count)))
        if not any(results):
            return None
        if all(isinstance(error, GrpcError) and error.down for error in results):
            # Nothing got through and the server is unreachable: kete waits for it without spending the
            # events' attempts, and the spool keeps them.
            raise Unavailable(str(results[0])) from results[0]
        return results

    async def _deliver(self, path: str, message: Message) -> BaseException | None:
        event = message.event
        if not _ASCII_VALUE.match(event.event_type):
            return PermanentError(f"{event!r}: the event type is not printable ASCII, which gRPC metadata needs")
        metadata = (
            *self._metadata,
            ("eventkind", event.kind),
            ("eventtype", event.event_type),
            ("contenttype", message.content_type),
        )
        try:
            await self._call(path)(
                self._encoding.encode(message.payload), metadata=metadata, timeout=self.config.timeout_seconds
            )
        except grpc.aio.AioRpcError as exc:
            return self._failure(path, exc)
        except Exception as exc:  # a bug must fail this event only, not the other calls in flight
            log.exception("grpc sink: unexpected failure")
            return exc
        return None

    @staticmethod
    def _failure(path: str, exc: grpc.aio.AioRpcError) -> Exception:
        code = exc.code()
        text = describe(path, exc)
        if code in _REFUSED:
            return PermanentError(f"{_REFUSED[code]}: {text}; {_REFUSED_HINT}")
        if code in DOWN or code in _TRANSIENT:
            return GrpcError(text, code)
        return PermanentError(text)
