"""kete's ``socketio`` sink next to python-socketio's AsyncClient, both emitting each event's kete
JSON as an object to python-socketio's AsyncServer on aiohttp (Engine.IO v4) in another process,
counting an event when the server's acknowledgement arrives. The client emits 1000 at a time and
waits for their acknowledgements, as kete does with a batch. kete is ``kete run`` from a file
(source, spool, serializer, sink), less its start-up time."""

from __future__ import annotations

import asyncio
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import orjson
import socketio
from aiohttp import web

from benchmarks.common import make_events
from benchmarks.destinations._server import serving
from benchmarks.destinations.websocket import payloads
from benchmarks.throughput import Line, kete_rate

IN_FLIGHT = 1000


def _serve(port_file: str) -> None:
    """python-socketio's server acknowledging every event (run in its own process)."""

    async def main() -> None:
        server = socketio.AsyncServer(async_mode="aiohttp")

        async def event(name: str, sid: str, *data: object) -> str:
            return "ok"

        server.on("*", event)
        app = web.Application()
        server.attach(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, backlog=1024).start()
        Path(port_file).write_text(str(runner.addresses[0][1]))
        await asyncio.Event().wait()

    asyncio.run(main())


async def _client(port: int, objects: list[dict[str, Any]]) -> float:
    client = socketio.AsyncClient(reconnection=False, handle_sigint=False)
    await client.connect(f"http://127.0.0.1:{port}", wait_timeout=10)
    try:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        for start in range(0, len(objects), IN_FLIGHT):
            acks: list[asyncio.Future[None]] = []
            for item in objects[start : start + IN_FLIGHT]:
                ack: asyncio.Future[None] = loop.create_future()
                await client.emit("keycloak-event", item, callback=lambda *_, ack=ack: ack.set_result(None))
                acks.append(ack)
            await asyncio.gather(*acks)
        return len(objects) / (time.perf_counter() - started)
    finally:
        await client.disconnect()


def lines(events: int) -> list[Line]:
    with tempfile.TemporaryDirectory(prefix="kete-bench-socketio-") as tmp:
        folder = Path(tmp)
        with serving(_serve, folder) as port:
            events_file = make_events(folder / "events.jsonl", events)
            objects = [orjson.loads(payload) for payload in payloads(events_file)]
            client = asyncio.run(_client(port, objects))
            destination = f'kind = "socketio"\nurl = "http://127.0.0.1:{port}"\nevent-name = "keycloak-event"\n'
            kete = kete_rate(folder, events_file, events, destination)
            note = f"python-socketio {version('python-socketio')}, acknowledged, {IN_FLIGHT} in flight"
            return [Line("socketio (python-socketio server)", kete, client, note)]
