"""The front door of the AMQP peer: a TCP (or TLS) relay on 127.0.0.1 to the peer's AMQP engine, which
writes every performative the engine sends with all its fields.

Why: AMQP 1.0 lets a sender leave out a performative's trailing null fields, and proton-c does; the Azure
SDKs' AMQP stack (pyamqp, in azure-eventhub and azure-servicebus) reads fields by position and fails on a
short ``open``/``begin``/``attach``. The services send them whole; so does this relay. Closing the relay
drops every client connection: an outage, with the engine untouched."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import struct
import threading

HEADER = b"AMQP"
# The number of fields of each performative (AMQP 1.0 part 2.7 and 5.3), by descriptor code.
FIELDS = {
    0x10: 10,  # open
    0x11: 8,  # begin
    0x12: 14,  # attach
    0x13: 11,  # flow
    0x14: 11,  # transfer
    0x15: 6,  # disposition
    0x16: 3,  # detach
    0x17: 1,  # end
    0x18: 1,  # close
    0x40: 1,  # sasl-mechanisms
    0x44: 2,  # sasl-outcome
}
_NULL = b"\x40"


def padded(frame: bytes) -> bytes:
    """*frame* (a whole frame) with its performative's missing trailing fields written as nulls."""
    offset = frame[4] * 4
    body = frame[offset:]
    if len(body) < 4 or body[0] != 0x00 or body[1] != 0x53 or body[2] not in FIELDS:
        return frame
    wanted = FIELDS[body[2]]
    constructor = body[3]
    if constructor == 0x45:  # list0
        count, items, end = 0, b"", 4
    elif constructor == 0xC0:  # list8: size, count
        size, count = body[4], body[5]
        items, end = body[6 : 5 + size], 5 + size
    elif constructor == 0xD0:  # list32: size, count
        size, count = struct.unpack(">II", body[4:12])
        items, end = body[12 : 8 + size], 8 + size
    else:
        return frame
    if count >= wanted:
        return frame
    items += _NULL * (wanted - count)
    performative = body[:3] + b"\xd0" + struct.pack(">II", len(items) + 4, wanted) + items
    rest = frame[4:offset] + performative + body[end:]
    return struct.pack(">I", len(rest) + 4) + rest


class FramePadder:
    """Pads the performatives of a byte stream from an AMQP server, fed in pieces of any size."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> bytes:
        """The whole frames (and protocol headers) completed by *data*, padded."""
        self._buffer += data
        out = []
        while len(self._buffer) >= 8:
            if self._buffer.startswith(HEADER):
                out.append(self._buffer[:8])
                self._buffer = self._buffer[8:]
                continue
            (size,) = struct.unpack(">I", self._buffer[:4])
            if len(self._buffer) < size:
                break
            out.append(padded(self._buffer[:size]))
            self._buffer = self._buffer[size:]
        return b"".join(out)


class Relay:
    """Listens on 127.0.0.1:*port* and relays each connection to 127.0.0.1:*target*, in a thread of its own."""

    def __init__(self, port: int, target: int, tls: ssl.SSLContext | None = None) -> None:
        self.port = port
        self.target = target
        self.tls = tls
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        """Listen (again, on the same port)."""
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        async def listen() -> None:
            try:
                self._server = await asyncio.start_server(
                    self._relay, "127.0.0.1", self.port, ssl=self.tls, reuse_address=True
                )
            except BaseException as exc:
                failure.append(exc)
            finally:
                ready.set()

        def run() -> None:
            loop.run_until_complete(listen())
            if not failure:
                loop.run_forever()
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name=f"azure-amqp-relay-{self.port}", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]

    def stop(self) -> None:
        """Close the listener and drop every connection."""
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            engine_reader, engine_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            client_writer.close()
            self._tasks.discard(task)
            return
        try:
            await asyncio.gather(
                _pump(client_reader, engine_writer, None), _pump(engine_reader, client_writer, FramePadder())
            )
        except (asyncio.CancelledError, OSError, ssl.SSLError):
            pass
        finally:
            for writer in (client_writer, engine_writer):
                writer.transport.abort()
            self._tasks.discard(task)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, padder: FramePadder | None) -> None:
    while data := await reader.read(65536):
        writer.write(padder.feed(data) if padder else data)
        await writer.drain()
    with contextlib.suppress(OSError, RuntimeError, NotImplementedError):
        writer.write_eof()
