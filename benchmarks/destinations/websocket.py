"""kete's ``websocket`` sink next to aiohttp's WebSocket client, both sending each event's kete JSON
as a text frame to an aiohttp WebSocket server in another process. The client sends the frames in a
loop and ends with one ping, whose pong comes after the server read them all (as kete confirms each
batch); its time runs from the first frame to the pong. kete is ``kete run`` from a file (source,
spool, serializer, sink), less its start-up time."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson
from aiohttp import web

from benchmarks.common import make_events
from benchmarks.destinations._server import serving
from benchmarks.throughput import Line, kete_rate
from kete_core import ComponentConfig, parse_event
from kete_core.builtins.json_serializer import JsonSerializer


def _serve(port_file: str) -> None:
    """An aiohttp WebSocket server reading every frame (run in its own process)."""

    async def handle(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for _ in ws:
            pass
        return ws

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, backlog=1024).start()
        Path(port_file).write_text(str(runner.addresses[0][1]))
        await asyncio.Event().wait()

    asyncio.run(main())


def payloads(events_file: Path) -> list[bytes]:
    """The bytes kete sends for each event of *events_file* (the ``json`` serializer's)."""
    serializer = JsonSerializer(ComponentConfig())
    return [serializer.serialize(parse_event(orjson.loads(line))) for line in events_file.read_bytes().splitlines()]


async def _client(port: int, frames: list[str]) -> float:
    url = f"ws://127.0.0.1:{port}/events"
    async with aiohttp.ClientSession() as session, session.ws_connect(url, autoping=False) as ws:
        started = time.perf_counter()
        for frame in frames:
            await ws.send_str(frame)
        await ws.ping(b"done")
        async for message in ws:
            if message.type is aiohttp.WSMsgType.PONG:
                break
        return len(frames) / (time.perf_counter() - started)


def lines(events: int) -> list[Line]:
    with tempfile.TemporaryDirectory(prefix="kete-bench-websocket-") as tmp:
        folder = Path(tmp)
        with serving(_serve, folder) as port:
            events_file = make_events(folder / "events.jsonl", events)
            frames = [payload.decode() for payload in payloads(events_file)]
            asyncio.run(_client(port, frames))  # warm-up
            # The better of two: on a shared machine one loop of a few seconds can lose half its speed.
            client = max(asyncio.run(_client(port, frames)) for _ in range(2))
            destination = f'kind = "websocket"\nurl = "ws://127.0.0.1:{port}/events"\n'
            kete = kete_rate(folder, events_file, events, destination)
            return [Line("websocket (aiohttp server)", kete, client, "text frames, confirmed by a ping/pong")]
