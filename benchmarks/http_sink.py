"""Benchmark: events/s of the ``http`` sink against a local receiver in another process.

Run from the repository root:  python benchmarks/http_sink.py [--events 20000]

The receiver is an aiohttp server answering 204 in a separate process on 127.0.0.1. The sink is
driven the way kete drives it (``send`` with batches of 1000 messages, one request per event),
in several configurations; then ``kete run`` replays a file of events into the same receiver,
which adds the pipeline (parsing, routing, serializing, spooling) to the cost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent


def _receiver(port_file: str) -> None:
    from aiohttp import web

    count = 0

    async def accept(request: web.Request) -> web.Response:
        nonlocal count
        await request.read()
        count += 1
        return web.Response(status=204)

    async def counted(request: web.Request) -> web.Response:
        return web.json_response({"count": count})

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", accept)
        app.router.add_get("/count", counted)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        Path(port_file).write_text(str(runner.addresses[0][1]))
        await asyncio.Event().wait()

    asyncio.run(main())


def _events(count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"ev-{number}", "time": 1_732_000_000_000 + number,
            "type": ("LOGIN", "LOGOUT", "CODE_TO_TOKEN")[number % 3],
            "realmId": "0c2b5a1e", "realmName": ("acme", "partner")[number % 2], "clientId": "account-console",
            "userId": "f7cd2a4e-77a1-4b7d-9c1e-0a3c1e7e9d11", "sessionId": "70c4e2b1", "ipAddress": "192.0.2.10",
            "details": {"auth_method": "openid-connect", "username": "alice", "redirect_uri": "https://app.example/cb"},
        }
        for number in range(count)
    ]  # fmt: skip


async def _sink_run(port: int, events: list[dict[str, Any]], settings: dict[str, Any]) -> float:
    from kete_http.settings import HttpSinkConfig
    from kete_http.sink import HttpSink

    from kete_core.builtins.json_serializer import JsonSerializer
    from kete_core.builtins.kete_renderer import KeteRenderer
    from kete_core.contracts import ComponentConfig, Message, SinkContext
    from kete_core.event import parse_event

    serializer = JsonSerializer(ComponentConfig())
    context = SinkContext("bench", "routes.bench.destination", KeteRenderer(ComponentConfig(), {}), serializer)
    config = HttpSinkConfig.model_validate({"url": f"http://127.0.0.1:{port}/in/${{realmLowerCase}}", **settings})
    sink = HttpSink(config, context)
    messages = []
    for data in events:
        event = parse_event(data)
        messages.append(Message(event, serializer.serialize(event), serializer.content_type))
    await sink.start()
    try:
        await sink.send(messages[:200])  # warm up: connections, caches
        started = time.perf_counter()
        for index in range(0, len(messages), 1000):
            results = await sink.send(messages[index : index + 1000])
            assert results is None, results
        return len(messages) / (time.perf_counter() - started)
    finally:
        await sink.close()


def _kete_run(port: int, events: list[dict[str, Any]], folder: Path) -> float:
    source = folder / "events.jsonl"
    source.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in events))
    config = folder / "kete.toml"
    config.write_text(
        f'[sources.replay]\nkind = "file"\npath = "{source}"\n\n'
        f'[routes.bench]\ndestination.kind = "http"\n'
        f'destination.url = "http://127.0.0.1:{port}/in/${{realmLowerCase}}"\ndestination.max-concurrency = 64\n'
    )
    # A fresh state folder each run: a spool or checkpoint from an earlier run would skip the replay.
    env = {**os.environ, "XDG_STATE_HOME": tempfile.mkdtemp(dir=folder)}
    started = time.perf_counter()
    command = [sys.executable, "-m", "kete_core.cli", "run", str(config)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"kete run failed:\n{result.stderr}")
    return len(events) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the median is reported")
    parser.add_argument("--receiver", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        _receiver(args.receiver)
        return
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}")
    events = _events(args.events)
    print(f"{args.events} events of {len(orjson.dumps(events[0]))} bytes, one POST each, receiver in another process")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        port_file = folder / "port"
        receiver = subprocess.Popen([sys.executable, __file__, "--receiver", str(port_file)])
        try:
            while not port_file.exists() or not port_file.read_text():
                time.sleep(0.05)
            port = int(port_file.read_text())
            cases = [
                ("sink, max-concurrency 1", {"max-concurrency": 1}),
                ("sink, max-concurrency 16 (default)", {}),
                ("sink, max-concurrency 64", {"max-concurrency": 64}),
                ("sink, 64, HMAC signing + gzip", {"max-concurrency": 64, "signing": {"secret": "s"},
                                                   "content-encoding": "gzip"}),
            ]  # fmt: skip
            print(f"{'case':<45} {'events/s (median of ' + str(args.repeat) + ')':>26}")
            for name, settings in cases:
                rates = [asyncio.run(_sink_run(port, events, settings)) for _ in range(args.repeat)]
                print(f"{name:<45} {statistics.median(rates):>26,.0f}")
            rates = [_kete_run(port, events, folder) for _ in range(args.repeat)]
            label = "kete run: file source -> http sink (64)"
            print(f"{label:<45} {statistics.median(rates):>26,.0f}   (process start included)")
        finally:
            receiver.terminate()
            receiver.wait()


if __name__ == "__main__":
    main()
