"""What the Redis and NATS benchmarks share: the events, the payloads kete sends for them (for the
client to send too), ``kete run`` on them, and the sink alone on them."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import orjson

from benchmarks.common import make_events
from benchmarks.throughput import kete_rate
from kete_core import Message, parse_event
from kete_core.testing import build_sink


def payloads(events_file: Path) -> list[tuple[Any, bytes]]:
    """(event, KETE JSON) of each event in *events_file*: what kete sends, for the client to send too."""
    found = []
    for line in events_file.read_bytes().splitlines():
        event = parse_event(orjson.loads(line))
        found.append((event, orjson.dumps(event.to_kete())))
    return found


class Bench:
    """A benchmark's *events* events, in a file and as the messages kete sends."""

    def __init__(self, folder: Path, events: int) -> None:
        self.folder = folder
        self.events = events
        self.events_file = make_events(folder / "events.jsonl", events)
        self.payloads = payloads(self.events_file)

    def sink_rate(self, kind: str, settings: dict[str, Any]) -> float:
        """The sink's events/s alone, in-process: the same messages in batches of 1000, as the pipeline
        hands them over (without the file source, routing and spool)."""
        messages = [Message(event, payload, "application/json") for event, payload in self.payloads]

        async def deliver() -> float:
            sink = build_sink(kind, settings)
            await sink.start()
            started = time.perf_counter()
            for start in range(0, len(messages), 1000):
                results = await sink.send(messages[start : start + 1000])
                if results is not None:
                    failed = [result for result in results if result is not None]
                    raise RuntimeError(f"{kind}: {len(failed)} message(s) not delivered, the first: {failed[0]!r}")
            elapsed = time.perf_counter() - started
            await sink.close()
            return elapsed

        return self.events / asyncio.run(deliver())

    def kete_rate(self, destination: dict[str, Any]) -> float:
        """kete's events/s to *destination* (its settings), start-up excluded."""
        lines = "\n".join(f"{json.dumps(key)} = {json.dumps(value)}" for key, value in destination.items())
        return kete_rate(self.folder, self.events_file, self.events, lines)
