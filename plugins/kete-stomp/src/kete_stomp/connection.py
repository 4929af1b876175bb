"""One STOMP 1.2 connection over asyncio: CONNECT (login, passcode, host, heart-beat), SEND frames written
back to back, RECEIPT and ERROR frames read by a task of its own and matched to the receipts awaited,
heart-beats sent while idle and expected from the broker as negotiated."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import ssl
import time
from collections.abc import Mapping

from kete_stomp import frames
from kete_stomp.frames import Frame, FrameError, FrameReader

log = logging.getLogger("kete.stomp")


class Refused(Exception):
    """The broker answered a SEND with an ERROR frame."""


class ConnectionLost(Exception):
    """The connection closed (or went silent) before the broker's receipt came."""


class BrokerError(ConnectionLost):
    """The broker sent an ERROR frame that names no receipt, and closed the connection."""


class LoginRefused(Exception):
    """The broker answered CONNECT with an ERROR frame."""


class StompConnection:
    """A connected STOMP session; use :meth:`open`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._frames = FrameReader(reader)
        self._writer = writer
        self._receipts: dict[str, asyncio.Future[None]] = {}
        self._ids = itertools.count(1)
        self._failure: Exception | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._unsent: list[bytes] = []
        self._last_write = time.monotonic()

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        *,
        connect_headers: Mapping[str, str],
        heart_beat: tuple[int, int],
        ssl_context: ssl.SSLContext | None,
        timeout: float,
    ) -> StompConnection:
        """Connect and log in; :class:`LoginRefused` when the broker says no, ``OSError``/``TimeoutError``
        when it cannot be reached or does not answer within *timeout* seconds."""
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port, ssl=ssl_context)
            connection = cls(reader, writer)
            try:
                outgoing, incoming = heart_beat
                headers = {**connect_headers, "heart-beat": f"{outgoing},{incoming}"}
                writer.write(frames.encode("CONNECT", headers, escape=False))
                await writer.drain()
                answer = await connection._frames.read()
            except BaseException:
                writer.close()
                raise
        if answer is None or answer.command != "CONNECTED":
            writer.close()
            if answer is not None and answer.command == "ERROR":
                raise LoginRefused(answer.describe())
            raise ConnectionLost(f"the broker answered CONNECT with {answer.command if answer else 'nothing'}")
        connection._start(heart_beat, answer.headers.get("heart-beat", "0,0"))
        return connection

    def _start(self, ours: tuple[int, int], theirs: str) -> None:
        try:
            server_out, server_in = (int(part) for part in theirs.split(","))
        except ValueError:
            server_out = server_in = 0
        send_every = max(ours[0], server_in) if ours[0] and server_in else 0
        expect_every = max(ours[1], server_out) if ours[1] and server_out else 0
        self._tasks.append(asyncio.create_task(self._read_loop(expect_every / 1000)))
        if send_every:
            self._tasks.append(asyncio.create_task(self._beat(send_every / 1000)))

    @property
    def failed(self) -> bool:
        """The connection can no longer be used."""
        return self._failure is not None

    def send(
        self, destination: str, headers: Mapping[str, str], body: bytes, *, receipt: bool, receipt_id: str | None = None
    ) -> asyncio.Future[None] | None:
        """Queue a SEND frame (written by :meth:`flush`); with *receipt*, the future the broker's
        RECEIPT resolves (or its ERROR, or the connection's end, fails). The receipt is *receipt_id* unless
        that is awaited already (then one of kete's own)."""
        if self._failure is not None:
            raise ConnectionLost(str(self._failure))
        headers = {**headers, "destination": destination, "content-length": str(len(body))}
        future: asyncio.Future[None] | None = None
        if receipt:
            if not receipt_id or receipt_id in self._receipts:
                receipt_id = f"kete-{next(self._ids)}"
            headers["receipt"] = receipt_id
            future = asyncio.get_running_loop().create_future()
            self._receipts[receipt_id] = future
        self._unsent.append(frames.encode("SEND", headers, body))
        return future

    async def flush(self) -> None:
        """Write the queued frames at once and wait until they went out; ``ConnectionLost`` when they cannot."""
        if self._unsent:
            self._writer.write(b"".join(self._unsent))
            self._unsent.clear()
            self._last_write = time.monotonic()
        try:
            await self._writer.drain()
        except (OSError, RuntimeError) as exc:
            self._fail(ConnectionLost(f"writing to the broker failed: {exc}"))
            raise ConnectionLost(str(exc)) from None

    async def _beat(self, interval: float) -> None:
        while self._failure is None:
            await asyncio.sleep(interval / 2)
            if time.monotonic() - self._last_write >= interval / 2:
                self._writer.write(b"\n")
                self._last_write = time.monotonic()

    async def _read_loop(self, expect_every: float) -> None:
        # A broker that promised heart-beats and sends nothing for twice the interval is gone.
        timeout = expect_every * 2 if expect_every else None
        try:
            while (frame := await self._frames.read(timeout)) is not None:
                self._dispatch(frame)
            self._fail(ConnectionLost("the broker closed the connection"))
        except TimeoutError:
            self._fail(ConnectionLost(f"no heart-beat from the broker in {expect_every * 2:g} s"))
        except (OSError, FrameError, ValueError) as exc:
            self._fail(ConnectionLost(f"reading from the broker failed: {type(exc).__name__}: {exc}"))

    def _dispatch(self, frame: Frame) -> None:
        receipt_id = frame.headers.get("receipt-id")
        if frame.command == "RECEIPT" and receipt_id is not None:
            future = self._receipts.pop(receipt_id, None)
            if future is not None and not future.done():
                future.set_result(None)
        elif frame.command == "ERROR":
            # The broker closes the connection after an ERROR; the frame it names (if any) is refused.
            future = self._receipts.pop(receipt_id, None) if receipt_id else None
            if future is not None and not future.done():
                future.set_exception(Refused(frame.describe()))
            self._fail(BrokerError(f"the broker sent ERROR: {frame.describe()}"))
        else:
            log.debug("ignoring a %s frame from the broker", frame.command)

    def _fail(self, failure: Exception) -> None:
        if self._failure is None:
            self._failure = failure
        for future in self._receipts.values():
            if not future.done():
                future.set_exception(failure)
        self._receipts.clear()
        self._writer.close()

    async def close(self) -> None:
        """Close the connection (no DISCONNECT: every receipt awaited has come or failed)."""
        if self._failure is None:
            self._failure = ConnectionLost("closed")
        for task in self._tasks:
            task.cancel()
        for future in self._receipts.values():
            if not future.done():
                future.set_exception(self._failure)
        self._receipts.clear()
        self._writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._writer.wait_closed(), 2)
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
