"""``destination.kind = "nats"``: publish each event to its subject on core NATS, with KETE's headers;
see the README."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import ClassVar

from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.errors import MaxPayloadError

from kete_core import (
    ConfigError,
    DeliveryResults,
    Event,
    Message,
    PermanentError,
    Sink,
    SinkContext,
    Template,
)
from kete_nats.connection import Connector, describe
from kete_nats.settings import NatsSinkConfig
from kete_nats.wire import HEADER_NAME, Commands, header_block

log = logging.getLogger("kete.nats")

RESERVED_HEADERS = ("eventkind", "eventtype", "contenttype")
# Header blocks kept for reuse, at most; they differ by event type and custom header values.
_BLOCKS_KEPT = 10_000

# Whitespace and control characters end a subject in NATS's protocol; "*" and ">" are wildcards.
_NOT_IN_SUBJECTS = re.compile(r"[\x00-\x20\x7f*>]")


@lru_cache(maxsize=10_000)
def subject_problem(subject: str) -> PermanentError | None:
    """Why *subject* cannot be published to, or None when it can."""
    if not subject:
        return PermanentError("the rendered subject is empty")
    if _NOT_IN_SUBJECTS.search(subject):
        return PermanentError(
            f"rendered subject {subject!r} is not a valid NATS subject: it has whitespace, a control"
            " character or a wildcard (* or >)"
        )
    if "" in subject.split("."):
        return PermanentError(f"rendered subject {subject!r} is not a valid NATS subject: it has an empty token")
    return None


class NatsSink(Sink):
    """Publishes a batch, then flushes: the server's answer to the flush's ``PING`` says it has read
    every message before it. Core NATS has no per-message acknowledgement (KETE sent without even the
    flush); ``nats-jetstream`` has one.

    One connection per route. When it is lost the batch is :class:`~kete_core.Unavailable` and the next
    one connects again; an event whose subject is not valid or whose payload exceeds the server's
    ``max_payload`` fails alone, with a :class:`~kete_core.PermanentError`.
    """

    Config: ClassVar[type[NatsSinkConfig]] = NatsSinkConfig
    config: NatsSinkConfig

    def __init__(self, config: NatsSinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        for setting, message in config.problems():
            raise ConfigError(message, path=f"{context.path}.{setting}")
        self.subject = context.address("subject", config.subject)
        self.custom_headers: list[tuple[str, Template]] = []
        for name, text in config.headers.items():
            if name.lower() in RESERVED_HEADERS:
                log.warning("%s.headers.%s: kete sets this header itself; the setting is ignored", context.path, name)
            elif name.strip() and not HEADER_NAME.fullmatch(name.strip()):
                raise ConfigError(
                    f"{name!r} is not a NATS header name",
                    path=f"{context.path}.headers.{name}",
                    hint="letters, digits and !#$%&'*+-.^_`|~ only",
                )
            elif text.strip():
                self.custom_headers.append((name, context.template(f"headers.{name}", text)))
        if config.pool:
            log.info("%s.pool: kete keeps one connection per route and pipelines each batch; ignored", context.path)
        if not config.encoding.identity:
            log.warning(
                "%s: content-encoding and content-transfer-encoding are not applied to NATS messages, as in KETE",
                context.path,
            )
        self.connector = Connector(config, context.path)
        self._connection: Client | None = None
        self._blocks: dict[tuple[object, ...], bytes] = {}

    async def _connected(self) -> Client:
        connection = self._connection
        if connection is None or connection.is_closed:
            self._connection = None
            connection = self._connection = await self.connector.connect()
            await self.connected(connection)
        return connection

    async def connected(self, connection: Client) -> None:
        """Called with each new connection: a subclass checks what it needs (a stream)."""

    async def start(self) -> None:
        """Connect, as KETE checks a NATS destination when it starts."""
        await self._connected()

    def headers(self, message: Message) -> dict[str, str]:
        """The message's headers: the custom ones with a value for its event, then KETE's three."""
        event: Event = message.event
        headers: dict[str, str] = {}
        for name, template in self.custom_headers:
            value = template.render(event)
            if isinstance(value, str) and value.strip():
                headers[name] = value
        headers["eventkind"] = event.kind
        headers["eventtype"] = event.event_type
        headers["contenttype"] = message.content_type
        return headers

    def header_block(self, message: Message) -> bytes:
        """:meth:`headers` encoded for the wire, each distinct block encoded once."""
        event: Event = message.event
        values = (
            tuple(
                value if isinstance(value := template.render(event), str) else None
                for _, template in self.custom_headers
            )
            if self.custom_headers
            else ()
        )
        key = (values, event.kind, event.event_type, message.content_type)
        block = self._blocks.get(key)
        if block is None:
            if len(self._blocks) >= _BLOCKS_KEPT:
                self._blocks.clear()
            block = self._blocks[key] = header_block(self.headers(message).items())
        return block

    def addressed(
        self, messages: Sequence[Message], results: list[BaseException | None]
    ) -> list[tuple[int, str, Message]]:
        """(index, subject, message) of each message with a valid subject; the others' errors go to *results*."""
        found = []
        subjects = self.subject.render_all([message.event for message in messages])
        for index, (message, subject) in enumerate(zip(messages, subjects, strict=True)):
            problem = subject_problem(subject) if isinstance(subject, str) else subject
            if problem is None and isinstance(subject, str):
                found.append((index, subject, message))
            else:
                results[index] = problem
        return found

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        connection = await self._connected()
        results: list[BaseException | None] = [None] * len(messages)
        try:
            commands = Commands(connection)
            largest = connection.max_payload
            for index, subject, message in self.addressed(messages, results):
                payload = message.payload
                if len(payload) > largest:
                    results[index] = refused(subject, MaxPayloadError())
                elif commands.add(subject, "", self.header_block(message), payload):
                    await commands.write()
            await commands.write()
            await connection.flush(self.config.connection_timeout_seconds)  # type: ignore[arg-type]  # a float works
        except (NatsError, OSError, TimeoutError) as exc:
            await self._drop()
            raise self.connector.unavailable(exc) from None
        return results if any(result is not None for result in results) else None

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed:
            await connection.close()

    async def close(self) -> None:
        await self._drop()


def refused(subject: str, exc: BaseException) -> PermanentError:
    """The :class:`PermanentError` of an event the client refuses to send."""
    return PermanentError(f"NATS refused the message for {subject!r}: {describe(exc)}")
