"""The SignalR JSON hub protocol over WebSockets, as ASP.NET Core's hubs speak it: negotiate, the
handshake record, invocation and completion records, pings and close.

Records are JSON objects each ended by the record separator 0x1E; a frame may hold several. The
client sends ``{"protocol":"json","version":1}`` and the hub answers ``{}`` (or an ``error``);
then each ``{"type":1,"invocationId":…,"target":…,"arguments":[…]}`` gets a ``{"type":3,…}``
completion, with an ``error`` when the hub method failed. Type 6 is a ping, type 7 a close.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Sequence
from typing import Any

import aiohttp
import orjson

from kete_core import ConnectionLost

log = logging.getLogger("kete.signalr")

SEPARATOR = b"\x1e"
INVOCATION, COMPLETION, PING, CLOSE = 1, 3, 6, 7
HANDSHAKE = orjson.dumps({"protocol": "json", "version": 1}) + SEPARATOR
_PING = orjson.dumps({"type": PING}) + SEPARATOR
# Records written in one WebSocket frame at most (a batch of invocations goes out in few frames).
_FRAME_RECORDS = 256


class HubError(Exception):
    """The hub method failed for this event (the completion's ``error``)."""


def records(data: bytes) -> list[dict[str, Any]]:
    """The records of one frame."""
    return [orjson.loads(part) for part in data.split(SEPARATOR) if part.strip()]


class HubConnection:
    """A connection past the handshake: :meth:`invoke` sends invocations and waits for their completions."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, url: str, keep_alive: float) -> None:
        self.ws = ws
        self.url = url
        self.lost: str | None = None
        self._ids = itertools.count(1)
        self._waiting: dict[str, asyncio.Future[None]] = {}
        self._reader = asyncio.create_task(self._read())
        self._keeper = asyncio.create_task(self._keep_alive(keep_alive))

    async def invoke(self, calls: Sequence[tuple[str, str]], timeout: float) -> list[BaseException | None]:
        """Invoke each (method, argument) of *calls*, pipelined, and wait for every completion: None
        for a completed one, :class:`HubError` for one the hub failed, :class:`ConnectionLost` for
        one not completed when the connection closed or *timeout* passed."""
        loop = asyncio.get_running_loop()
        waiters: list[asyncio.Future[None]] = []
        lines: list[bytes] = []
        for target, argument in calls:
            invocation_id = str(next(self._ids))
            waiters.append(self._waiting.setdefault(invocation_id, loop.create_future()))
            record = {"type": INVOCATION, "invocationId": invocation_id, "target": target, "arguments": [argument]}
            lines.append(orjson.dumps(record) + SEPARATOR)
        try:
            for start in range(0, len(lines), _FRAME_RECORDS):
                if self.lost is not None:
                    break
                await self.ws.send_str(b"".join(lines[start : start + _FRAME_RECORDS]).decode())
            if self.lost is None:
                await asyncio.wait(waiters, timeout=timeout)
        except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
            self._lose(f"{type(exc).__name__}: {exc}")
        if not all(waiter.done() for waiter in waiters):
            self._lose(f"no completion within {timeout:g}s")
            await self.close()
        results: list[BaseException | None] = []
        for waiter in waiters:
            results.append(waiter.exception() if waiter.done() else ConnectionLost(self.lost))
        return results

    async def close(self) -> None:
        """Send the hub protocol's close, close the WebSocket and stop the connection's tasks."""
        self._lose("closed by kete")
        for task in (self._keeper, self._reader):
            if task is not asyncio.current_task():
                task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.send_str((orjson.dumps({"type": CLOSE}) + SEPARATOR).decode()), 1)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 2)

    def _lose(self, reason: str) -> None:
        if self.lost is None:
            self.lost = f"{self.url}: {reason}"
            log.info("signalr %s: connection lost: %s", self.url, reason)
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_exception(ConnectionLost(self.lost))
        self._waiting.clear()

    def _complete(self, record: dict[str, Any]) -> None:
        waiter = self._waiting.pop(str(record.get("invocationId")), None)
        if waiter is None or waiter.done():
            return
        error = record.get("error")
        if error is not None:
            waiter.set_exception(HubError(f"{self.url}: the hub method failed: {error}"))
        else:
            waiter.set_result(None)

    async def _read(self) -> None:
        reason = "the hub closed the connection"
        try:
            while True:
                message = await self.ws.receive()
                if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    data = message.data.encode() if isinstance(message.data, str) else message.data
                    for record in records(data):
                        kind = record.get("type")
                        if kind == COMPLETION:
                            self._complete(record)
                        elif kind == CLOSE:
                            reason = f"the hub closed the connection: {record.get('error') or 'no reason given'}"
                            return
                        # Pings, and invocations of client methods (kete registers none), are ignored.
                elif message.type is aiohttp.WSMsgType.ERROR:
                    reason = f"{type(message.data).__name__}: {message.data}"
                    return
                elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                    return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
        finally:
            self._lose(reason)

    async def _keep_alive(self, interval: float) -> None:
        with contextlib.suppress(Exception):
            while self.lost is None:
                await asyncio.sleep(interval)
                await self.ws.send_str(_PING.decode())
