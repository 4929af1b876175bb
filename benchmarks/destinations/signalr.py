"""signalr: ``kete run`` next to a plain JSON-hub-protocol client on aiohttp (negotiate, handshake,
then the same invocations pipelined 1000 at a time, waiting for their completions; Python has no
official SignalR client), to a SignalR hub on aiohttp in another process."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson

from benchmarks.destinations._common import events_file, kete_rate, payloads, server
from benchmarks.throughput import Line

RS = b"\x1e"


async def _client(url: str, arguments: list[str]) -> float:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/negotiate?negotiateVersion=1") as response:
            token = (await response.json())["connectionToken"]
        async with session.ws_connect(f"{url.replace('http', 'ws', 1)}?id={token}") as ws:
            await ws.send_str('{"protocol":"json","version":1}\x1e')
            await ws.receive()
            started = time.perf_counter()
            for start in range(0, len(arguments), 1000):
                chunk = arguments[start : start + 1000]
                records = [
                    orjson.dumps({"type": 1, "invocationId": str(start + n), "target": "SendEvent", "arguments": [a]})
                    for n, a in enumerate(chunk)
                ]
                await ws.send_str((RS.join(records) + RS).decode())
                completed = 0
                while completed < len(chunk):
                    message = await ws.receive()
                    completed += message.data.count("\x1e")
            return len(arguments) / (time.perf_counter() - started)


def lines(events: int) -> list[Line]:
    with tempfile.TemporaryDirectory() as scratch, server("signalr") as (port, received):
        folder = Path(scratch)
        source = events_file(folder, events)
        url = f"http://127.0.0.1:{port}/hubs/events"
        client = asyncio.run(_client(url, [payload.decode() for payload in payloads(source)]))
        kete = kete_rate(folder, {"kind": "signalr", "url": url}, source, events, received)
    return [Line("signalr (JSON hub protocol)", kete, client, "completed invocations; kete: `kete run` with start-up")]
