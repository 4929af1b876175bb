"""kete's ``nats`` and ``nats-jetstream`` sinks next to nats-py sending the same payloads.

The client sends what kete sends (the KETE JSON with the ``eventkind``, ``eventtype`` and
``contenttype`` headers): core NATS publishes everything, then flushes; JetStream uses nats-py's
``publish_async`` and awaits every acknowledgement. Its better of two runs counts. kete is timed as
``kete run`` from a file of the same events (reading, routing, the disk spool, serializing, sending),
minus the time of a one-event run, and its sink alone, in-process, on the same messages in batches of 1000.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import nats
from nats.js.api import StreamConfig

from benchmarks.brokers._kete_run import Bench
from benchmarks.throughput import Line
from tests.services.nats_fixtures import nats_server_in


def headers(event: object) -> dict[str, str]:
    return {"eventkind": event.kind, "eventtype": event.event_type, "contenttype": "application/json"}  # type: ignore[attr-defined]


async def client_seconds(url: str, bench: Bench, kind: str, subject: str) -> float:
    """Seconds nats-py takes to send every payload (flushed, or acknowledged by JetStream)."""
    connection = await nats.connect(url)
    try:
        jetstream = connection.jetstream(publish_async_max_pending=5000)
        started = time.perf_counter()
        if kind == "nats":
            for event, payload in bench.payloads:
                await connection.publish(subject, payload, headers=headers(event))
            await connection.flush(30)
        else:
            for event, payload in bench.payloads:
                await jetstream.publish_async(subject, payload, headers=headers(event))
            await asyncio.wait_for(jetstream.publish_async_completed(), 60)
        return time.perf_counter() - started
    finally:
        await connection.close()


async def create_stream(url: str, name: str, subjects: list[str]) -> None:
    connection = await nats.connect(url)
    try:
        # The test server's file store holds 1 GB; three runs of 200k events filled it and JetStream
        # refused the rest ("insufficient resources"). Keeping only the newest messages is enough here.
        await connection.jetstream().add_stream(StreamConfig(name=name, subjects=subjects, max_bytes=256 << 20))
    finally:
        await connection.close()


def lines(events: int) -> list[Line]:
    with tempfile.TemporaryDirectory(prefix="kete-bench-nats-") as tmp:
        folder = Path(tmp)
        server = nats_server_in(folder / "nats")
        server.start()
        try:
            bench = Bench(folder, events)
            stream = f"BENCH_{uuid.uuid4().hex[:6].upper()}"
            asyncio.run(create_stream(server.url, stream, ["bench.>"]))  # captures both kinds: same work for the server
            measured = []
            for kind in ("nats", "nats-jetstream"):
                client = min(
                    asyncio.run(client_seconds(server.url, bench, kind, f"bench.client.{run}")) for run in range(2)
                )
                settings = {"servers": server.url, "authentication-method": "none"}
                if kind == "nats-jetstream":
                    settings["stream"] = stream
                kete = bench.kete_rate({"kind": kind, **settings, "subject": f"bench.kete-{kind}"})
                alone = bench.sink_rate(kind, {**settings, "subject": f"bench.alone-{kind}"})
                note = f"nats-server 2.9 (file store), {events:,} events, nats-py"
                measured.append(Line(f"{kind} (kete run)", kete, events / client, note))
                measured.append(Line(f"{kind} (sink alone)", alone, events / client, note))
            return measured
        finally:
            server.stop()
