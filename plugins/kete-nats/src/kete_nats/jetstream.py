"""``destination.kind = "nats-jetstream"``: publish each event to JetStream and wait for its
acknowledgement; see the README."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Sequence

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import MaxPayloadError
from nats.js.errors import NotFoundError

from kete_core import DeliveryResults, Message, PermanentError, SinkContext, Unavailable
from kete_nats.connection import describe
from kete_nats.settings import NatsJetStreamSinkConfig
from kete_nats.sink import NatsSink, refused
from kete_nats.wire import Commands

log = logging.getLogger("kete.nats")

# JetStream error codes that no retry of the same message changes.
PERMANENT_CODES = frozenset({
    10054,  # message size exceeds the stream's maximum
})  # fmt: skip


class NoStream(Exception):
    """No JetStream stream takes the message's subject (kete retries it as the route's retry policy says)."""


class Refused(Exception):
    """JetStream answered the publish with an error (kete retries it as the route's retry policy says)."""


class Acknowledgements:
    """JetStream's answers to a connection's publishes, each matched to its message by the reply
    subject (``<inbox>.<n>``). nats-py's own ``publish_async`` loses the answers that are errors."""

    def __init__(self) -> None:
        self.inbox = ""
        self.waiting: dict[str, asyncio.Future[None]] = {}
        self._numbers = itertools.count()

    async def attach(self, connection: Client) -> None:
        """Listen for the answers on a new inbox of *connection*."""
        self.inbox = connection.new_inbox()
        self.waiting = {}
        await connection.subscribe(f"{self.inbox}.*", cb=self._answer)

    def expect(self) -> tuple[str, asyncio.Future[None]]:
        """A reply subject for one publish, and the future its answer settles."""
        token = str(next(self._numbers))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting[token] = future
        return f"{self.inbox}.{token}", future

    def forget(self, reply: str) -> None:
        """Stop waiting for the answer to *reply*."""
        self.waiting.pop(reply.rpartition(".")[2], None)

    async def _answer(self, msg: Msg) -> None:
        future = self.waiting.pop(msg.subject.rpartition(".")[2], None)
        if future is None or future.done():
            return
        if msg.headers and msg.headers.get("Status") == "503":  # no responders: no stream has the subject
            future.set_exception(NoStream())
            return
        try:
            error = json.loads(msg.data).get("error")
        except (ValueError, AttributeError):
            future.set_exception(Refused(f"JetStream answered {msg.data[:200]!r}"))
            return
        if error is None:
            future.set_result(None)
        elif error.get("err_code") in PERMANENT_CODES:
            future.set_exception(PermanentError(error.get("description") or "refused"))
        else:
            future.set_exception(
                Refused(f"{error.get('description')} (code {error.get('code')}, err_code {error.get('err_code')})")
            )


class NatsJetStreamSink(NatsSink):
    """Publishes a batch with every acknowledgement awaited at once: a message counts as delivered
    when JetStream acknowledged it. An event that JetStream refuses (no stream for its subject, larger
    than the stream's ``max_msg_size``) fails alone; a lost connection, or a batch of which nothing was
    acknowledged in time, is :class:`~kete_core.Unavailable`.

    At start (and with each new connection) the stream must exist, as KETE checks.
    """

    Config = NatsJetStreamSinkConfig
    config: NatsJetStreamSinkConfig

    def __init__(self, config: NatsJetStreamSinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        self.acknowledgements = Acknowledgements()

    async def connected(self, connection: Client) -> None:
        try:
            await connection.jsm(timeout=self.config.publish_timeout_seconds).stream_info(self.config.stream)
            await self.acknowledgements.attach(connection)
        except NotFoundError:
            await connection.close()
            raise Unavailable(
                f"stream '{self.config.stream}' does not exist on the NATS server at {self.connector.where}"
            ) from None
        except (NatsError, OSError, TimeoutError) as exc:
            await connection.close()
            raise Unavailable(f"JetStream at {self.connector.where} does not answer: {describe(exc)}") from None

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        connection = await self._connected()
        acknowledgements = self.acknowledgements
        results: list[BaseException | None] = [None] * len(messages)
        pending: list[tuple[int, str, asyncio.Future[None]]] = []
        subjects: dict[int, str] = {}
        try:
            commands = Commands(connection)
            largest = connection.max_payload
            for index, subject, message in self.addressed(messages, results):
                payload = message.payload
                if len(payload) > largest:
                    results[index] = refused(subject, MaxPayloadError())
                    continue
                subjects[index] = subject
                reply, future = acknowledgements.expect()
                pending.append((index, reply, future))
                if commands.add(subject, reply, self.header_block(message), payload):
                    await commands.write()
            await commands.write()
        except (NatsError, OSError, TimeoutError) as exc:
            await self._drop()
            raise self.connector.unavailable(exc) from None
        if pending:
            await self._acknowledged(pending, results, subjects)
        return results if any(result is not None for result in results) else None

    async def _acknowledged(
        self,
        pending: list[tuple[int, str, asyncio.Future[None]]],
        results: list[BaseException | None],
        subjects: dict[int, str],
    ) -> None:
        futures = [future for _, _, future in pending]
        _, late = await asyncio.wait(futures, timeout=self.config.publish_timeout_seconds)
        connection = self._connection
        if late and (len(late) == len(futures) or connection is None or not connection.is_connected):
            # Nothing was acknowledged in time, or the connection is gone: JetStream is out of reach.
            for future in late:
                future.cancel()
            await self._drop()
            raise Unavailable(
                f"JetStream at {self.connector.where} acknowledged {len(futures) - len(late)} of"
                f" {len(futures)} message(s) within {self.config.publish_timeout_seconds:g}s"
            )
        for index, reply, future in pending:
            if not future.done():
                self.acknowledgements.forget(reply)
                future.cancel()
                results[index] = TimeoutError("JetStream did not acknowledge the message in time")
            elif (error := future.exception()) is not None:
                results[index] = self._refused(subjects[index], error)

    def _refused(self, subject: str, error: BaseException) -> BaseException:
        if isinstance(error, NoStream):
            return NoStream(f"no JetStream stream takes subject {subject!r}")
        if isinstance(error, PermanentError):
            return PermanentError(f"JetStream refused the message for {subject!r}: {error}")
        return Refused(f"JetStream refused the message for {subject!r}: {error}")
