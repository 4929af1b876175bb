"""kete's ``soap`` sink next to a plain aiohttp client, both posting each event inside the same SOAP 1.1
envelope (kete's JSON in KETE's envelope) with the same headers to an aiohttp SOAP endpoint in another
process, counting a request when its 200 arrives. The client keeps as many requests in flight as kete's
``max-concurrency`` (16) on one connection pool, and its time runs from the first request to the last
answer. kete is ``kete run`` from a file (source, spool, serializer, sink), less its start-up time."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson
from kete_soap.sink import ENVELOPES

from benchmarks.common import make_events
from benchmarks.destinations._server import serving
from benchmarks.throughput import Line, kete_rate
from kete_core import ComponentConfig, parse_event
from kete_core.builtins.json_serializer import JsonSerializer

IN_FLIGHT = 16
NAMESPACE, CONTENT_TYPE = ENVELOPES["1.1"]


def _serve(port_file: str) -> None:
    """A SOAP endpoint answering every envelope with a small SOAP answer (run in its own process)."""
    from aiohttp import web

    answer = f'<soap:Envelope xmlns:soap="{NAMESPACE}"><soap:Body><ok/></soap:Body></soap:Envelope>'

    async def accept(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text=answer, content_type=CONTENT_TYPE)

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", accept)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        Path(port_file).write_text(str(runner.addresses[0][1]))
        await asyncio.Event().wait()

    asyncio.run(main())


async def _client(url: str, records: list[tuple[bytes, dict[str, str]]]) -> float:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=IN_FLIGHT + 1)) as session:
        async with session.post(url, data=records[0][0], headers=records[0][1]) as response:
            await response.read()  # connected before the clock starts
        pending = iter(records)

        async def worker() -> None:
            for body, headers in pending:
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"HTTP {response.status}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
        return len(records) / (time.perf_counter() - started)


def client_rate(url: str, events_file: Path) -> float:
    """Events/s of aiohttp posting each event's kete payload in KETE's envelope, with KETE's headers."""
    serializer = JsonSerializer(ComponentConfig())
    head = f'<soap:Envelope xmlns:soap="{NAMESPACE}"><soap:Body>'.encode()
    records = []
    for line in events_file.read_bytes().splitlines():
        event = parse_event(orjson.loads(line))
        body = head + serializer.serialize(event) + b"</soap:Body></soap:Envelope>"
        headers = {"Content-Type": CONTENT_TYPE, "x-eventkind": event.kind, "x-eventtype": event.event_type}
        records.append((body, headers))
    return asyncio.run(_client(url, records))


def lines(events: int) -> list[Line]:
    with tempfile.TemporaryDirectory(prefix="kete-bench-soap-") as tmp:
        folder = Path(tmp)
        with serving(_serve, folder) as port:
            url = f"http://127.0.0.1:{port}/EventService"
            events_file = make_events(folder / "events.jsonl", events)
            client_rate(url, events_file)  # warm-up
            client = client_rate(url, events_file)
            kete = kete_rate(folder, events_file, events, f'kind = "soap"\nurl = "{url}"\n')
            note = f"aiohttp {aiohttp.__version__}, SOAP 1.1, {IN_FLIGHT} in flight, 200 counted"
            return [Line("soap (aiohttp endpoint)", kete, client, note)]
