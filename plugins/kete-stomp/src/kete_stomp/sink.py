"""``destination.kind = "stomp"``: each event is a SEND frame to a templated destination over one STOMP 1.2
connection per route; see the README for settings.

With ``receipt-enabled`` (KETE's default) a batch goes out pipelined: every SEND with its own ``receipt``
header, then the sink waits for all the RECEIPT frames. An ERROR frame that names a receipt fails that event
alone. A broker sends ERROR and closes the connection; when its ERROR names no receipt, the rest of the batch
is sent again one frame at a time on a new connection, so that the frame the broker refuses is known and fails
alone. A broker that cannot be reached (or refuses the login) makes the route wait:
:class:`~kete_core.Unavailable`. Without receipts, a frame written to the socket counts as delivered, as in KETE.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence

from kete_core import (
    DeliveryResults,
    Message,
    PermanentError,
    RenderError,
    Sink,
    SinkContext,
    Unavailable,
    enabled_client_ssl,
)
from kete_stomp.connection import BrokerError, ConnectionLost, LoginRefused, Refused, StompConnection
from kete_stomp.frames import FrameError
from kete_stomp.settings import StompSinkConfig

log = logging.getLogger("kete.stomp")

# Headers kete sets on each SEND; custom headers of these names are dropped, as KETE's win over them.
_RESERVED = {"content-type", "content-length", "eventkind", "eventtype", "destination", "receipt"}

Job = tuple[int, str]
_KNOWN_DESTINATIONS = 10_000


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _destination_value(value: str) -> str:
    """A variable's value in a destination: no control characters (a NUL cannot be sent in a STOMP header, and
    brokers pass line breaks in destinations on unescaped, which breaks their subscribers' frames)."""
    if _CONTROL.search(value):
        raise ValueError("a STOMP destination cannot hold control characters")
    return value


class StompSink(Sink):
    """Sends each message as a STOMP SEND frame; see the module documentation."""

    Config = StompSinkConfig
    config: StompSinkConfig

    def __init__(self, config: StompSinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        self._ssl = enabled_client_ssl(config.tls, f"{context.path}.tls")
        self.destination = context.address("destination", config.destination, _destination_value)
        self.where = f"{config.host}:{config.effective_port}"
        self._headers = {name: value for name, value in config.headers.items() if name.lower() not in _RESERVED}
        connect = {"accept-version": "1.1,1.2", "host": config.connect_host}
        if config.username.strip():
            connect["login"] = config.username.strip()
        password = config.password.get_secret_value().strip()
        if password:
            connect["passcode"] = password
        self._connect_headers = connect
        self._connection: StompConnection | None = None
        self._known: set[str] = set()

    async def start(self) -> None:
        await self._open()

    async def _open(self) -> StompConnection:
        if self._connection is not None and not self._connection.failed:
            return self._connection
        await self._drop()
        config = self.config
        try:
            self._connection = await StompConnection.open(
                config.host,
                config.effective_port,
                connect_headers=self._connect_headers,
                heart_beat=(config.heart_beat_outgoing_seconds * 1000, config.heart_beat_incoming_seconds * 1000),
                ssl_context=self._ssl,
                timeout=config.read_timeout_seconds,
            )
        except LoginRefused as exc:
            raise Unavailable(
                f"the STOMP broker at {self.where} refused the login of user {config.username!r}: {exc}"
            ) from None
        except (OSError, TimeoutError, ConnectionLost, FrameError, asyncio.IncompleteReadError) as exc:
            text = str(exc).strip() or "no answer in time"
            raise Unavailable(f"cannot reach the STOMP broker at {self.where}: {type(exc).__name__}: {text}") from None
        return self._connection

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()

    async def close(self) -> None:
        await self._drop()

    # ------------------------------------------------------------------ sending

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        connection = await self._open()
        results: list[BaseException | None] = [None] * len(messages)
        jobs: list[Job] = []
        for index, rendered in enumerate(self.destination.render_all([message.event for message in messages])):
            if isinstance(rendered, RenderError):
                results[index] = rendered
            elif "\x00" in messages[index].event.event_type:
                results[index] = PermanentError("the event type holds a NUL byte, which a STOMP header cannot")
            else:
                jobs.append((index, rendered))
        if not self.config.receipt_enabled:
            for index, destination in jobs:
                connection.send(
                    destination, self._frame_headers(messages[index]), messages[index].payload, receipt=False
                )
            try:
                await connection.flush()
            except ConnectionLost as exc:
                await self._drop()
                raise Unavailable(f"lost the STOMP broker at {self.where}: {exc}") from None
            return results
        return await self._with_receipts(messages, jobs, results)

    def _frame_headers(self, message: Message) -> dict[str, str]:
        event = message.event
        return {
            **self._headers,
            "content-type": message.content_type,
            "eventkind": event.kind,
            "eventtype": event.event_type,
        }

    async def _with_receipts(
        self, messages: Sequence[Message], jobs: list[Job], results: list[BaseException | None]
    ) -> DeliveryResults:
        pending = jobs
        settled = 0
        stalls = 0
        while pending and stalls < 2:
            try:
                connection = await self._open()
            except Unavailable:
                if settled:
                    break
                raise
            # The first message to a destination not yet known good goes alone: a broker's ERROR about it
            # (a missing exchange, an invalid name) then names that message, and nothing else is in flight.
            # What comes before it is pipelined first, so the batch keeps its order.
            first = next((number for number, job in enumerate(pending) if job[1] not in self._known), len(pending))
            batch = pending[:first] or pending[:1]
            send = self._pipelined if first else self._one_by_one
            outcomes = await send(connection, messages, batch)
            done: set[int] = set()
            for (index, destination), outcome in zip(batch, outcomes, strict=True):
                if outcome is None or isinstance(outcome, Refused):
                    results[index] = outcome
                    done.add(index)
                    if outcome is None:
                        self._remember(destination)
                elif isinstance(outcome, BrokerError):
                    self._known.clear()  # an ERROR that names no message: find it one destination at a time
            if connection.failed:
                await self._drop()
            stalls = 0 if done else stalls + 1
            settled += len(done)
            pending = [job for job in pending if job[0] not in done]
        if pending:
            if not settled and len(jobs) == len(messages):
                raise Unavailable(f"lost the STOMP broker at {self.where} before its receipts came")
            for index, _destination in pending:
                results[index] = ConnectionLost(f"no receipt from the STOMP broker at {self.where}")
        return results

    def _remember(self, destination: str) -> None:
        if len(self._known) >= _KNOWN_DESTINATIONS:
            self._known.clear()
        self._known.add(destination)

    def _send(self, connection: StompConnection, message: Message, destination: str) -> asyncio.Future[None]:
        future = connection.send(
            destination, self._frame_headers(message), message.payload, receipt=True, receipt_id=message.event.id
        )
        assert future is not None
        return future

    async def _pipelined(
        self, connection: StompConnection, messages: Sequence[Message], jobs: list[Job]
    ) -> list[BaseException | None]:
        futures: list[asyncio.Future[None]] = []
        try:
            for index, destination in jobs:
                futures.append(self._send(connection, messages[index], destination))
            await connection.flush()
        except ConnectionLost as exc:
            lost = ConnectionLost(str(exc))
            return [await _outcome(future) for future in futures] + [lost] * (len(jobs) - len(futures))
        _done, waiting = await asyncio.wait(futures, timeout=self.config.read_timeout_seconds)
        if waiting:
            await self._drop()  # fails what is still waiting
        return [await _outcome(future) for future in futures]

    async def _one_by_one(
        self, connection: StompConnection, messages: Sequence[Message], jobs: list[Job]
    ) -> list[BaseException | None]:
        outcomes: list[BaseException | None] = []
        for index, destination in jobs:
            try:
                future = self._send(connection, messages[index], destination)
                await connection.flush()
                async with asyncio.timeout(self.config.read_timeout_seconds):
                    await future
            except BrokerError as exc:
                outcomes.append(Refused(str(exc)))  # this frame was the only one in flight
                break
            except (ConnectionLost, TimeoutError) as exc:
                outcomes.append(ConnectionLost(str(exc) or "no receipt in time"))
                break
            except Refused as exc:
                outcomes.append(exc)
                break
            outcomes.append(None)
        lost = ConnectionLost("not sent: the connection ended before")
        return outcomes + [lost] * (len(jobs) - len(outcomes))


async def _outcome(future: asyncio.Future[None]) -> BaseException | None:
    if not future.done():
        return ConnectionLost("no receipt in time")
    return future.exception()
