"""What the broker benchmarks share: the events, the payloads kete sends for them, and ``kete run``
timed from a file of them to one destination."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from benchmarks.common import make_events
from kete_core import Message, parse_event
from kete_core.testing import build_sink, write_config


def payloads(events_file: Path) -> list[tuple[Any, bytes]]:
    """(event, KETE JSON) of each event in *events_file*: what kete sends, for the client to send too."""
    found = []
    for line in events_file.read_bytes().splitlines():
        event = parse_event(orjson.loads(line))
        found.append((event, orjson.dumps(event.to_kete())))
    return found


def kete_seconds(folder: Path, events_file: Path, destination: dict[str, Any]) -> float:
    """Seconds ``kete run`` takes to deliver every event of *events_file* to *destination*."""
    config = write_config(
        folder / f"kete-{uuid.uuid4().hex[:6]}.toml",
        {
            "kete": {"data-dir": str(folder / f"data-{uuid.uuid4().hex[:6]}")},
            "sources": {"replay": {"kind": "file", "path": str(events_file)}},
            "routes": {"bench": {"destination": destination}},
        },
    )
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "kete_core.cli", "run", str(config)], capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"kete run failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return elapsed


class Bench:
    """A benchmark's files: *events* events, and a one-event file to time kete's start-up."""

    def __init__(self, folder: Path, events: int) -> None:
        self.folder = folder
        self.events = events
        self.events_file = make_events(folder / "events.jsonl", events)
        self.one_file = make_events(folder / "one.jsonl", 1)
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
                if await sink.send(messages[start : start + 1000]) is not None:
                    raise RuntimeError(f"{kind}: some messages were not delivered")
            elapsed = time.perf_counter() - started
            await sink.close()
            return elapsed

        return self.events / asyncio.run(deliver())

    def kete_rate(self, destination: Callable[[str], dict[str, Any]]) -> float:
        """kete's events/s to ``destination(name)`` (a fresh name each run), start-up excluded."""
        startup = kete_seconds(self.folder, self.one_file, destination(f"warm-{uuid.uuid4().hex[:6]}"))
        total = kete_seconds(self.folder, self.events_file, destination(f"kete-{uuid.uuid4().hex[:6]}"))
        return self.events / max(total - startup, 1e-9)
