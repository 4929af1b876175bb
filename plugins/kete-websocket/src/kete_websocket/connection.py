"""One open WebSocket connection of the sink: frames out, and a ping whose pong confirms them.

WebSocket has no acknowledgement of data frames. A server reads frames in order and answers a
ping after the frames before it (aiohttp answers it when the application reads it, after the
frames before it): the pong to a ping sent after a batch says the server has read the batch. The
same ping/pong keeps an idle connection checked (KETE's ``connection-lost-timeout-seconds``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
from collections.abc import Sequence

import aiohttp

from kete_core import ConnectionLost

log = logging.getLogger("kete.websocket")

_TCP_CORK: int | None = getattr(socket, "TCP_CORK", None)


class _Cork:
    """``TCP_CORK`` on *sock* until :meth:`release` (nothing where the system or socket has none)."""

    def __init__(self, sock: socket.socket | None) -> None:
        self.sock = sock if _TCP_CORK is not None and sock is not None else None
        if self.sock is not None:
            try:
                self.sock.setsockopt(socket.IPPROTO_TCP, _TCP_CORK, 1)  # type: ignore[arg-type]
            except OSError:  # not TCP (a Unix socket), or already closed
                self.sock = None

    def release(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.setsockopt(socket.IPPROTO_TCP, _TCP_CORK, 0)  # type: ignore[arg-type]


class Connection:
    """An open connection to one URL; :meth:`send` frames, then :meth:`confirm` them."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, url: str, liveness: float) -> None:
        self.ws = ws
        self.url = url
        self.lost: str | None = None
        """Why the connection is gone (None while it is open)."""
        self._pings = itertools.count(1)
        self._waiting: dict[bytes, asyncio.Future[None]] = {}
        self._reader = asyncio.create_task(self._read())
        self._keeper = asyncio.create_task(self._keep_alive(liveness)) if liveness > 0 else None

    async def send_all(self, frames: Sequence[bytes], opcode: aiohttp.WSMsgType, timeout: float) -> None:
        """Write *frames* (text frames hold UTF-8) and confirm them with a ping;
        :class:`ConnectionLost` when the connection is gone or no pong came within *timeout*.

        The frames and the ping go out corked (``TCP_CORK``, where the system has it): the kernel
        sends full segments instead of one per frame, which halves what a small frame costs; the
        bytes on the wire are the same."""
        if self.lost is not None:
            raise ConnectionLost(self.lost)
        payload = b"kete-%d" % next(self._pings)
        answered = self._waiting[payload] = asyncio.get_running_loop().create_future()
        send = self.ws.send_frame
        cork = _Cork(self.ws.get_extra_info("socket"))
        try:
            try:
                for frame in frames:
                    await send(frame, opcode)
                await self.ws.ping(payload)
            finally:
                cork.release()
            await asyncio.wait_for(asyncio.shield(answered), timeout)
        except TimeoutError:
            self._lose(f"no pong within {timeout:g}s")
            await self.close()
            raise ConnectionLost(self.lost) from None
        except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
            self._lose(f"{type(exc).__name__}: {exc}")
            raise ConnectionLost(self.lost) from exc
        finally:
            self._waiting.pop(payload, None)

    async def confirm(self, timeout: float) -> None:
        """Return once the server answered a ping sent after everything sent so far."""
        await self.send_all((), aiohttp.WSMsgType.TEXT, timeout)

    async def close(self) -> None:
        """Close the connection (a close frame, a short wait for the server's) and stop its tasks."""
        self._lose("closed by kete")
        for task in (self._keeper, self._reader):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 2)

    def _lose(self, reason: str) -> None:
        if self.lost is None:
            self.lost = f"{self.url}: {reason}"
            log.info("websocket %s: connection lost: %s", self.url, reason)
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_exception(ConnectionLost(self.lost))
                waiter.exception()  # retrieved here: a waiter nobody awaits any more logs nothing

    async def _read(self) -> None:
        """Answer the server's pings, match its pongs, ignore what else it says (as KETE did)."""
        reason = "the server closed the connection"
        try:
            while True:
                message = await self.ws.receive()
                if message.type is aiohttp.WSMsgType.PING:
                    await self.ws.pong(message.data)
                elif message.type is aiohttp.WSMsgType.PONG:
                    waiter = self._waiting.get(message.data)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(None)
                elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                    break
                elif message.type is aiohttp.WSMsgType.ERROR:
                    reason = f"{type(message.data).__name__}: {message.data}"
                    break
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
        self._lose(reason)

    async def _keep_alive(self, interval: float) -> None:
        with contextlib.suppress(ConnectionLost):
            while self.lost is None:
                await asyncio.sleep(interval)
                await self.confirm(interval)
