"""socketio: ``kete run`` next to python-socketio's AsyncClient emitting the same payloads as objects
in a loop, each with an acknowledgement callback, 1000 in flight, to python-socketio's server on
aiohttp in another process."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import socketio

from benchmarks.destinations._common import events_file, kete_rate, payloads, server
from benchmarks.throughput import Line


async def _client(port: int, objects: list[dict[str, Any]]) -> float:
    client = socketio.AsyncClient(reconnection=False, handle_sigint=False)
    await client.connect(f"http://127.0.0.1:{port}", wait_timeout=10)
    try:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        for start in range(0, len(objects), 1000):
            acks: list[asyncio.Future[None]] = []
            for item in objects[start : start + 1000]:
                ack: asyncio.Future[None] = loop.create_future()
                await client.emit("keycloak-event", item, callback=lambda *_, ack=ack: ack.set_result(None))
                acks.append(ack)
            await asyncio.gather(*acks)
        return len(objects) / (time.perf_counter() - started)
    finally:
        await client.disconnect()


def lines(events: int) -> list[Line]:
    with tempfile.TemporaryDirectory() as scratch, server("socketio") as (port, received):
        folder = Path(scratch)
        source = events_file(folder, events)
        objects = [orjson.loads(payload) for payload in payloads(source)]
        client = asyncio.run(_client(port, objects))
        destination = {"kind": "socketio", "url": f"http://127.0.0.1:{port}", "event-name": "keycloak-event"}
        kete = kete_rate(folder, destination, source, events, received)
    return [Line("socketio (python-socketio)", kete, client, "acknowledged; kete: `kete run` with start-up")]
