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

import aiohttp

from kete_core import ConnectionLost

log = logging.getLogger("kete.websocket")


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

    async def send(self, frame: str | bytes) -> None:
        """Write one frame; :class:`ConnectionLost` when the connection is gone."""
        if self.lost is not None:
            raise ConnectionLost(self.lost)
        try:
            if isinstance(frame, str):
                await self.ws.send_str(frame)
            else:
                await self.ws.send_bytes(frame)
        except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
            self._lose(f"{type(exc).__name__}: {exc}")
            raise ConnectionLost(self.lost) from exc

    async def confirm(self, timeout: float) -> None:
        """Return once the server answered a ping sent after everything sent so far."""
        if self.lost is not None:
            raise ConnectionLost(self.lost)
        payload = b"kete-%d" % next(self._pings)
        answered = self._waiting[payload] = asyncio.get_running_loop().create_future()
        try:
            await self.ws.ping(payload)
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
