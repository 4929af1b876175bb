"""``destination.kind = "amqp-1"``: each event is an AMQP 1.0 message to a templated queue or topic over one
connection per route (:mod:`kete_amqp.amqp1_connection`); see the README for settings.

Messages are built as KETE's Qpid JMS client builds a ``BytesMessage``: the payload as a data section,
``eventkind``, ``eventtype`` and ``contenttype`` (and the custom headers) as application properties, durable
unless ``delivery-mode = non-persistent``, priority and time-to-live when set, and the JMS message-type
annotation. A batch goes out pipelined, then the sink waits for every disposition: ``accepted`` delivers
the event; ``rejected``, ``released`` or ``modified``, a link the broker refuses, or one it gives no credit
until ``send-timeout-seconds`` pass, fail that event alone. A broker that cannot be reached (or refuses the
login) makes the route wait: :class:`~kete_core.Unavailable`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from proton import Message as AmqpMessage
from proton import symbol, ubyte

from kete_amqp.amqp1_connection import Amqp1Connection, ConnectionLost, LoginRefused, Refused
from kete_amqp.settings import Amqp1SinkConfig
from kete_core import (
    DeliveryResults,
    Message,
    RenderError,
    Sink,
    SinkContext,
    Unavailable,
    enabled_client_ssl,
)

log = logging.getLogger("kete.amqp")

_RESERVED = ("eventkind", "eventtype", "contenttype")
_KNOWN_ADDRESSES = 10_000
# Qpid JMS marks a BytesMessage with this annotation (3) and its destination's kind (0 queue, 1 topic).
_JMS_MESSAGE_TYPE = symbol("x-opt-jms-msg-type")
_JMS_DESTINATION = symbol("x-opt-jms-dest")


class Amqp1Sink(Sink):
    """Sends each message to an AMQP 1.0 broker; see the module documentation."""

    Config = Amqp1SinkConfig
    config: Amqp1SinkConfig

    def __init__(self, config: Amqp1SinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        self._ssl = enabled_client_ssl(config.tls, f"{context.path}.tls")
        self.destination = context.address("destination-name", config.destination_name)
        self.where = f"{config.host}:{config.effective_port}"
        self._headers = {name: value for name, value in config.headers.items() if name.lower() not in _RESERVED}
        self._annotations = {
            _JMS_MESSAGE_TYPE: ubyte(3),
            _JMS_DESTINATION: ubyte(0 if config.destination_type == "queue" else 1),
        }
        self._connection: Amqp1Connection | None = None
        self._known: set[str] = set()

    async def start(self) -> None:
        await self._open()

    async def _open(self) -> Amqp1Connection:
        if self._connection is not None and not self._connection.failed:
            return self._connection
        await self._drop()
        config = self.config
        try:
            self._connection = await Amqp1Connection.open(
                config.host,
                config.effective_port,
                username=config.username.strip(),
                password=config.password.get_secret_value().strip(),
                ssl_context=self._ssl,
                idle_timeout=config.idle_timeout_seconds,
                timeout=config.send_timeout_seconds,
            )
        except LoginRefused as exc:
            raise Unavailable(
                f"the AMQP 1.0 broker at {self.where} refused the login of user {config.username!r}: {exc}"
            ) from None
        except (OSError, TimeoutError, ConnectionLost) as exc:
            text = str(exc).strip() or "no answer in time"
            raise Unavailable(
                f"cannot reach the AMQP 1.0 broker at {self.where}: {type(exc).__name__}: {text}"
            ) from None
        return self._connection

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()

    async def close(self) -> None:
        await self._drop()

    def _message(self, message: Message) -> AmqpMessage:
        config = self.config
        event = message.event
        built = AmqpMessage(
            body=message.payload,
            inferred=True,  # bytes as a data section, as a JMS BytesMessage
            durable=config.delivery_mode == "persistent",
            content_type="application/octet-stream",
            properties={**self._headers, "eventkind": event.kind, "eventtype": event.event_type,
                        "contenttype": message.content_type},
        )  # fmt: skip
        built.annotations = self._annotations
        if config.priority is not None:
            built.priority = config.priority
        if config.time_to_live_seconds:
            built.ttl = config.time_to_live_seconds
        return built

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        await self._open()
        results: list[BaseException | None] = [None] * len(messages)
        pending: list[tuple[int, str]] = []
        for index, address in enumerate(self.destination.render_all([message.event for message in messages])):
            if isinstance(address, RenderError):
                results[index] = address
            else:
                pending.append((index, address))
        jobs = len(pending)
        settled = stalls = 0
        while pending and stalls < 2:
            try:
                connection = await self._open()
            except Unavailable:
                if settled:
                    break
                raise
            # The first message to an address not yet known good goes alone: a broker that ends the connection
            # over a bad address (RabbitMQ 3 does) then names that message, and nothing else is in flight.
            # What comes before it is sent first, so the batch keeps its order.
            first = next((number for number, job in enumerate(pending) if job[1] not in self._known), len(pending))
            batch = pending[:first] or pending[:1]
            outcomes = await self._round(connection, messages, batch)
            done: set[int] = set()
            for (index, address), outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, ConnectionLost) and not first:
                    outcome = Refused(f"the broker ended the connection over address {address!r}: {outcome}")
                if outcome is None or isinstance(outcome, Refused):
                    results[index] = outcome
                    done.add(index)
                    if outcome is None:
                        self._remember(address)
            stalls = 0 if done else stalls + 1
            settled += len(done)
            pending = [job for job in pending if job[0] not in done]
        if pending:
            if not settled and jobs == len(messages):
                raise Unavailable(f"lost the AMQP 1.0 broker at {self.where} before it settled the batch")
            for index, _address in pending:
                results[index] = ConnectionLost(f"no disposition from the AMQP 1.0 broker at {self.where}")
        return results

    def _remember(self, address: str) -> None:
        if len(self._known) >= _KNOWN_ADDRESSES:
            self._known.clear()
        self._known.add(address)

    async def _round(
        self, connection: Amqp1Connection, messages: Sequence[Message], batch: list[tuple[int, str]]
    ) -> list[BaseException | None]:
        """Send *batch* pipelined and wait for every disposition (or the end of the connection)."""
        capability = self.config.destination_type
        futures: list[asyncio.Future[None]] = []
        try:
            for index, address in batch:
                futures.append(connection.send(address, capability, self._message(messages[index])))
            connection.flush()
        except ConnectionLost:
            pass  # what was sent fails with the reason, what was not is sent again
        if futures:
            timeout = self.config.send_timeout_seconds
            _done, waiting = await asyncio.wait(futures, timeout=timeout)
            if waiting:
                connection.drop_held_back(timeout)
            if any(not future.done() for future in waiting):
                await self._drop()  # fails what is still waiting
        if connection.failed:
            await self._drop()
        outcomes: list[BaseException | None] = [future.exception() for future in futures]
        return outcomes + [ConnectionLost("not sent: the connection ended")] * (len(batch) - len(futures))
