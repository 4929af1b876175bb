"""websocket: ``kete run`` next to aiohttp's WebSocket client sending the same payloads as text
frames in a loop (then one ping/pong, as kete confirms a batch), to an aiohttp server in another process."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp

from benchmarks.destinations._common import events_file, kete_rate, payloads, server
from benchmarks.throughput import Line


async def _client(port: int, frames: list[str]) -> float:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"ws://127.0.0.1:{port}/events", autoping=False) as ws,
    ):
        started = time.perf_counter()
        for frame in frames:
            await ws.send_str(frame)
        await ws.ping(b"done")  # answered after the server read every frame before it
        async for message in ws:
            if message.type is aiohttp.WSMsgType.PONG:
                break
        return len(frames) / (time.perf_counter() - started)


def lines(events: int) -> list[Line]:
    with tempfile.TemporaryDirectory() as scratch, server("websocket") as (port, received):
        folder = Path(scratch)
        source = events_file(folder, events)
        frames = [payload.decode() for payload in payloads(source)]
        client = asyncio.run(_client(port, frames))
        destination = {"kind": "websocket", "url": f"ws://127.0.0.1:{port}/events"}
        kete = kete_rate(folder, destination, source, events, received)
    return [Line("websocket (aiohttp)", kete, client, "text frames; kete: `kete run` with start-up, batch ping/pong")]
