"""kete's ``signalr`` sink next to a plain client of the SignalR JSON hub protocol on aiohttp (Python
has no official SignalR client): negotiate, handshake, then the same invocations (``SendEvent`` with
each event's kete JSON) pipelined 1000 at a time, waiting for their completions, to the hub of
:mod:`kete_signalr.testing` in another process. kete is ``kete run`` from a file (source, spool,
serializer, sink), less its start-up time."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson

from benchmarks.common import make_events
from benchmarks.destinations._server import serving
from benchmarks.destinations.websocket import payloads
from benchmarks.throughput import Line, kete_rate

RS = b"\x1e"
IN_FLIGHT = 1000


def _serve(port_file: str) -> None:
    """The hub of :mod:`kete_signalr.testing` (run in its own process)."""
    from kete_signalr.testing import Hub

    async def main() -> None:
        hub = await Hub().start()
        Path(port_file).write_text(str(hub.port))
        await asyncio.Event().wait()

    asyncio.run(main())


async def _client(url: str, arguments: list[str]) -> float:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/negotiate?negotiateVersion=1") as response:
            token = (await response.json())["connectionToken"]
        async with session.ws_connect(f"{url.replace('http', 'ws', 1)}?id={token}") as ws:
            await ws.send_str('{"protocol":"json","version":1}\x1e')
            await ws.receive()
            started = time.perf_counter()
            for start in range(0, len(arguments), IN_FLIGHT):
                chunk = arguments[start : start + IN_FLIGHT]
                records = [
                    orjson.dumps({"type": 1, "invocationId": str(start + n), "target": "SendEvent", "arguments": [a]})
                    for n, a in enumerate(chunk)
                ]
                await ws.send_str((RS.join(records) + RS).decode())
                completed = 0
                while completed < len(chunk):
                    completed += (await ws.receive()).data.count("\x1e")
            return len(arguments) / (time.perf_counter() - started)


def lines(events: int) -> list[Line]:
    with tempfile.TemporaryDirectory(prefix="kete-bench-signalr-") as tmp:
        folder = Path(tmp)
        with serving(_serve, folder) as port:
            events_file = make_events(folder / "events.jsonl", events)
            url = f"http://127.0.0.1:{port}/hubs/events"
            client = asyncio.run(_client(url, [payload.decode() for payload in payloads(events_file)]))
            kete = kete_rate(folder, events_file, events, f'kind = "signalr"\nurl = "{url}"\n')
            note = f"invocations completed by the hub, {IN_FLIGHT} in flight"
            return [Line("signalr (JSON hub protocol, aiohttp hub)", kete, client, note)]
