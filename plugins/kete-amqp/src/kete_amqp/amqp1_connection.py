"""An AMQP 1.0 sending connection: Qpid Proton's protocol engine (framing, SASL, links, dispositions) driven by
asyncio streams, with no thread of its own. TLS is asyncio's (kete's ``ssl.SSLContext``); Proton sees plain bytes.

Each address gets one sender link (target capability ``queue`` or ``topic``, as Qpid JMS sends). A message's
future resolves when the broker settles its delivery: ``accepted`` delivers it, ``rejected``, ``released`` or
``modified`` fails it (:class:`Refused`), a link the broker refuses or closes fails what was sent on it, and the
end of the connection fails everything in flight (:class:`ConnectionLost`). :meth:`Amqp1Connection.drop_held_back`
fails what a link given no credit still holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
import uuid

from proton import Collector, Condition, Connection, Data, Delivery, Endpoint, Event, Link, Message, Transport, symbol

log = logging.getLogger("kete.amqp")

_OUTCOMES = {Delivery.REJECTED: "rejected", Delivery.RELEASED: "released", Delivery.MODIFIED: "modified"}


class Refused(Exception):
    """The broker did not accept one message (its disposition, or the link it was sent on)."""


class ConnectionLost(Exception):
    """The connection ended before the broker settled the message."""


class LoginRefused(Exception):
    """The broker refused the SASL login."""


def _describe(condition: Condition | None) -> str:
    if condition is None:
        return "no reason given"
    return f"{condition.name}: {condition.description}" if condition.description else str(condition.name)


class Amqp1Connection:
    """One connection and session; use :meth:`open`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, transport: Transport) -> None:
        self._reader = reader
        self._writer = writer
        self._transport = transport
        self._collector = Collector()
        self._connection = Connection()
        self._connection.collect(self._collector)
        self._senders: dict[str, Link] = {}
        self._waiting: dict[Delivery, asyncio.Future[None]] = {}
        self._opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._failure: Exception | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._tags = 0

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        *,
        username: str,
        password: str,
        ssl_context: ssl.SSLContext | None,
        idle_timeout: float,
        timeout: float,
    ) -> Amqp1Connection:
        """Connect, log in and open a session; :class:`LoginRefused`, ``OSError``, ``TimeoutError`` or
        :class:`ConnectionLost` when that fails."""
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port, ssl=ssl_context)
            transport = Transport()
            amqp = cls(reader, writer, transport)
            try:
                connection = amqp._connection
                connection.hostname = host
                connection.container = f"kete-{uuid.uuid4()}"
                sasl = transport.sasl()
                # TLS, when on, is asyncio's: Proton cannot see it, and would refuse PLAIN over "plain" bytes.
                sasl.allow_insecure_mechs = True
                if username:
                    connection.user = username
                    connection.password = password
                    sasl.allowed_mechs("PLAIN")
                else:
                    sasl.allowed_mechs("ANONYMOUS")
                if idle_timeout:
                    transport.idle_timeout = idle_timeout
                transport.bind(connection)
                connection.open()
                amqp._session = connection.session()
                amqp._session.open()
                amqp._tasks.append(asyncio.create_task(amqp._read_loop()))
                if idle_timeout:
                    amqp._tasks.append(asyncio.create_task(amqp._tick_loop()))
                amqp._pump()
                await amqp._opened
            except BaseException:
                await amqp.close()
                raise
        return amqp

    @property
    def failed(self) -> bool:
        """The connection can no longer be used."""
        return self._failure is not None

    def send(self, address: str, capability: str, message: Message) -> asyncio.Future[None]:
        """Send *message* to *address* (not awaited); the future resolves when the broker settles it."""
        if self._failure is not None:
            raise ConnectionLost(str(self._failure))
        sender = self._senders.get(address)
        if sender is None:
            sender = self._session.sender(f"kete-{address}-{uuid.uuid4().hex[:8]}")
            sender.target.address = address
            capabilities: Data = sender.target.capabilities
            capabilities.put_array(False, Data.SYMBOL)
            capabilities.enter()
            capabilities.put_symbol(symbol(capability))
            capabilities.exit()
            sender.snd_settle_mode = Link.SND_UNSETTLED
            sender.open()
            self._senders[address] = sender
        self._tags += 1
        delivery = sender.delivery(str(self._tags))
        sender.send(message.encode())
        sender.advance()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[delivery] = future
        return future

    def flush(self) -> None:
        """Write out what the engine has to send."""
        self._pump()

    def drop_held_back(self, waited: float) -> None:
        """Fail what still waits on links the broker has given no credit (Artemis gives none to a link to a full
        address): Proton still holds those messages, so closing their link drops them, they cannot arrive
        later, and the connection and the other links go on."""
        for link in {delivery.link for delivery in self._waiting}:
            if link.queued:
                address = link.target.address
                self._drop_link(
                    link,
                    Refused(
                        f"the broker gave no credit to send to {address!r} in {waited:g} s: it holds messages to "
                        "that address back (full, or blocked)"
                    ),
                )
        self._pump()

    # ------------------------------------------------------------------ the engine

    def _pump(self) -> None:
        """Handle the engine's events, then hand its output to the socket."""
        while (event := self._collector.peek()) is not None:
            self._handle(event)
            self._collector.pop()
        transport = self._transport
        while (pending := transport.pending()) > 0:
            data = transport.peek(pending)
            transport.pop(pending)
            if data and not self._writer.is_closing():
                self._writer.write(data)
        if transport.closed and self._failure is None:
            self._fail(self._transport_failure())

    def _handle(self, event: Event) -> None:
        kind = event.type
        if kind == Event.CONNECTION_REMOTE_OPEN and not self._opened.done():
            self._opened.set_result(None)
        elif kind == Event.DELIVERY:
            delivery = event.delivery
            if delivery is not None and delivery.remote_state in (Delivery.ACCEPTED, *_OUTCOMES):
                self._settle(delivery)
        elif kind in (Event.LINK_REMOTE_CLOSE, Event.LINK_REMOTE_DETACH):
            link = event.link
            if link is not None:
                self._drop_link(
                    link,
                    Refused(
                        f"the broker closed the link to {link.target.address!r}: {_describe(link.remote_condition)}"
                    ),
                )
        elif kind in (Event.CONNECTION_REMOTE_CLOSE, Event.SESSION_REMOTE_CLOSE):
            endpoint = event.connection if kind == Event.CONNECTION_REMOTE_CLOSE else event.session
            condition = endpoint.remote_condition if endpoint is not None else None
            self._fail(ConnectionLost(f"the broker closed the connection: {_describe(condition)}"))
        elif kind == Event.TRANSPORT_ERROR:
            self._fail(self._transport_failure())

    def _transport_failure(self) -> Exception:
        condition = self._transport.condition
        if condition is not None and condition.name == "amqp:unauthorized-access":
            return LoginRefused(_describe(condition))
        return ConnectionLost(f"the connection closed: {_describe(condition)}")

    def _settle(self, delivery: Delivery) -> None:
        state = delivery.remote_state
        future = self._waiting.pop(delivery, None)
        if future is not None and not future.done():
            if state == Delivery.ACCEPTED:
                future.set_result(None)
            else:
                address = delivery.link.target.address
                condition = delivery.remote.condition
                reason = f": {_describe(condition)}" if condition is not None else ""
                future.set_exception(Refused(f"the broker {_OUTCOMES[state]} the message to {address!r}{reason}"))
        delivery.settle()

    def _drop_link(self, link: Link, error: Exception) -> None:
        for delivery, future in list(self._waiting.items()):
            if delivery.link == link:
                del self._waiting[delivery]
                if not future.done():
                    future.set_exception(error)
        self._senders = {address: sender for address, sender in self._senders.items() if sender != link}
        if link.state & Endpoint.LOCAL_ACTIVE:
            link.close()

    def _fail(self, failure: Exception) -> None:
        if self._failure is None:
            self._failure = failure
        if not self._opened.done():
            self._opened.set_exception(failure)
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(failure)
        self._waiting.clear()

    async def _read_loop(self) -> None:
        try:
            while self._failure is None:
                data = await self._reader.read(65536)
                if not data:
                    self._transport.close_tail()
                    self._pump()
                    self._fail(ConnectionLost("the broker closed the connection"))
                    return
                while data:
                    capacity = self._transport.capacity()
                    if capacity <= 0:
                        break
                    self._transport.push(data[:capacity])
                    data = data[capacity:]
                self._pump()
        except (OSError, asyncio.IncompleteReadError) as exc:
            self._fail(ConnectionLost(f"reading from the broker failed: {type(exc).__name__}: {exc}"))

    async def _tick_loop(self) -> None:
        while self._failure is None:
            deadline = self._transport.tick(time.monotonic())
            self._pump()
            await asyncio.sleep(max(0.05, deadline - time.monotonic()) if deadline else 1.0)

    async def close(self) -> None:
        """Close the connection; what is still in flight fails."""
        if self._failure is None:
            self._failure = ConnectionLost("closed")
            with contextlib.suppress(Exception):
                self._connection.close()
                self._pump()
        self._fail(self._failure)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        self._writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._writer.wait_closed(), 2)
