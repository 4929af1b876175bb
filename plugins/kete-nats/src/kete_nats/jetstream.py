"""``destination.kind = "nats-jetstream"``: publish each event to JetStream and wait for its
acknowledgement; see the README."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from nats.aio.client import Client
from nats.errors import BadSubjectError, MaxPayloadError
from nats.errors import Error as NatsError
from nats.js.client import JetStreamContext
from nats.js.errors import APIError, NoStreamResponseError, NotFoundError

from kete_core import DeliveryResults, Message, PermanentError, SinkContext, Unavailable
from kete_nats.connection import describe
from kete_nats.settings import NatsJetStreamSinkConfig
from kete_nats.sink import NatsSink, refused, subject_problem

log = logging.getLogger("kete.nats")

# JetStream error codes no retry of the same message changes.
MESSAGE_TOO_LARGE = 10054


class NoStream(Exception):
    """No JetStream stream takes the message's subject (kete retries it as the route's retry policy says)."""


class NatsJetStreamSink(NatsSink):
    """Publishes a batch with every acknowledgement awaited at once (``publish_async``): a message
    counts as delivered when JetStream acknowledged it. An event that JetStream refuses (no stream for
    its subject, larger than the stream's ``max_msg_size``) fails alone; a lost connection or a batch
    of which nothing was acknowledged in time is :class:`~kete_core.Unavailable`.

    At start (and with each new connection) the stream must exist, as KETE checks.
    """

    Config = NatsJetStreamSinkConfig
    config: NatsJetStreamSinkConfig

    def __init__(self, config: NatsJetStreamSinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        self._jetstream: JetStreamContext | None = None

    async def connected(self, connection: Client) -> None:
        self._jetstream = connection.jetstream(
            timeout=self.config.publish_timeout_seconds, publish_async_max_pending=self.config.max_pending
        )
        try:
            await self._jetstream.stream_info(self.config.stream)
        except NotFoundError:
            await connection.close()
            raise Unavailable(
                f"stream '{self.config.stream}' does not exist on the NATS server at {self.connector.where}"
            ) from None
        except (NatsError, OSError, TimeoutError) as exc:
            await connection.close()
            raise Unavailable(f"JetStream at {self.connector.where} does not answer: {describe(exc)}") from None

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        await self._connected()
        jetstream = self._jetstream
        assert jetstream is not None
        results: list[BaseException | None] = [None] * len(messages)
        pending: list[tuple[int, asyncio.Future[object]]] = []
        subjects = self.subject.render_all([message.event for message in messages])
        try:
            for index, (message, subject) in enumerate(zip(messages, subjects, strict=True)):
                problem = subject if isinstance(subject, PermanentError) else subject_problem(subject)
                if problem is not None:
                    results[index] = problem
                    continue
                try:
                    future = await jetstream.publish_async(subject, message.payload, headers=self.headers(message))
                except (BadSubjectError, MaxPayloadError) as exc:
                    results[index] = refused(subject, exc)
                    continue
                pending.append((index, future))
        except (NatsError, OSError, TimeoutError) as exc:
            for _, future in pending:
                future.cancel()
            await self._drop()
            raise self.connector.unavailable(exc) from None
        if pending:
            await self._acknowledged(pending, results, subjects)
        return results if any(result is not None for result in results) else None

    async def _acknowledged(
        self,
        pending: list[tuple[int, asyncio.Future[object]]],
        results: list[BaseException | None],
        subjects: Sequence[object],
    ) -> None:
        futures = [future for _, future in pending]
        _, late = await asyncio.wait(futures, timeout=self.config.publish_timeout_seconds)
        for future in late:
            future.cancel()
        connection = self._connection
        if late and (len(late) == len(futures) or connection is None or not connection.is_connected):
            # Nothing was acknowledged in time, or the connection is gone: JetStream is out of reach.
            await self._drop()
            raise Unavailable(
                f"JetStream at {self.connector.where} acknowledged {len(futures) - len(late)} of"
                f" {len(futures)} message(s) within {self.config.publish_timeout_seconds:g}s"
            )
        for index, future in pending:
            if future.cancelled():
                results[index] = TimeoutError("JetStream did not acknowledge the message in time")
            elif (error := future.exception()) is not None:
                results[index] = self._refused(str(subjects[index]), error)

    def _refused(self, subject: str, error: BaseException) -> BaseException:
        if isinstance(error, NoStreamResponseError):
            return NoStream(f"no JetStream stream takes subject {subject!r}")
        if isinstance(error, APIError) and error.err_code == MESSAGE_TOO_LARGE:
            return PermanentError(f"JetStream refused the message for {subject!r}: {error.description}")
        return error
