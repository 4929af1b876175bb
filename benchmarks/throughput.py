"""Destination throughput: kete next to the service's own client, one line per destination.

``python -m benchmarks.brokers``, ``python -m benchmarks.destinations`` and ``python -m benchmarks.cloud``
each run every module of their package that defines ``lines(events: int) -> list[Line]``: the module
starts its server (with the test helpers of ``tests/services``), publishes the same payloads with
kete and with the service's own client in a loop, and returns what it measured.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import pkgutil
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson

from benchmarks.common import machine


@dataclass(frozen=True)
class Line:
    """One destination's figures: events per second delivered (acknowledged by the server)."""

    destination: str
    kete: float
    client: float
    note: str = ""

    @property
    def ratio(self) -> float:
        """kete's rate as a share of the plain client's."""
        return self.kete / self.client if self.client else 0.0


def table(lines: list[Line]) -> str:
    """The figures as a Markdown table (the form docs/performance.md quotes)."""
    rows = [
        "| destination | kete events/s | client events/s | kete / client | note |",
        "|---|---:|---:|---:|---|",
    ]
    rows += [
        f"| {line.destination} | {line.kete:,.0f} | {line.client:,.0f} | {line.ratio:.0%} | {line.note} |"
        for line in lines
    ]
    return "\n".join(rows)


def run_package(package: ModuleType, description: str) -> None:
    """Command line of a benchmark package: run its modules' ``lines`` (or only ``--only`` ones) and
    print the table; a module that fails is reported and the others still run."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--only", action="append", default=[], help="module name (repeatable)")
    args = parser.parse_args()
    print(machine())
    lines: list[Line] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda info: info.name):
        if info.name.startswith("_") or (args.only and info.name not in args.only):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        measure: Callable[[int], list[Line]] | None = getattr(module, "lines", None)
        if measure is None:
            continue
        try:
            lines += measure(args.events)
        except Exception:  # one broken module must not hide the others' figures
            print(f"{info.name}: failed\n{traceback.format_exc()}")
    print(table(lines))


def kete_rate(folder: Path, events_file: Path, count: int, destination: str, *, spool: str = "disk") -> float:
    """Events/s of ``kete run`` replaying *events_file* (*count* events) into one route with the
    *destination* table (TOML lines), less kete's start-up: the time of the same run on a one-event
    file is taken off (the quicker of two). Fails unless kete reports all *count* delivered, or when
    the run took no longer than starting up (too few events to measure)."""
    one = folder / "one-event.jsonl"
    with events_file.open("rb") as lines:
        one.write_bytes(lines.readline())

    def run(path: Path) -> tuple[float, str]:
        config = folder / f"kete-{uuid.uuid4().hex[:6]}.toml"
        config.write_text(
            f'[kete]\nspool = "{spool}"\ndata-dir = "{folder / uuid.uuid4().hex[:6]}"\n'
            f'[sources.replay]\nkind = "file"\npath = "{path}"\n'
            f"[routes.bench.destination]\n{destination}\n"
        )
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "kete_core.cli", "run", str(config)], capture_output=True, text=True, check=False
        )
        elapsed = time.perf_counter() - started
        if result.returncode != 0:
            raise RuntimeError(f"kete run failed ({result.returncode}):\n{result.stderr[-3000:]}")
        return elapsed, result.stderr

    # On a shared machine one start-up time varies by a second or more: the quicker of two counts.
    startup = min(run(one)[0] for _ in range(2))
    elapsed, log = run(events_file)
    if f"{count} delivered, 0 failed" not in log:
        raise RuntimeError(f"kete did not deliver all {count} events:\n{log[-3000:]}")
    if elapsed <= startup:
        raise RuntimeError(
            f"the run ({elapsed:.2f} s) took no longer than a start-up ({startup:.2f} s): use more events"
        )
    return count / (elapsed - startup)


def sink_rate(
    kind: str, settings: Mapping[str, Any], events_file: Path, done: Callable[[], None] | None = None
) -> float:
    """Events/s of a sink alone, in-process, handed the ``json`` payloads of *events_file* in batches of
    5000 as kete's pipeline does; *done* (run in a thread) waits until the destination has them all,
    for destinations that acknowledge nothing."""
    # Here, not at the top: build_sink comes with the contract kit, which imports pytest.
    from kete_core import ComponentConfig, Message, parse_event
    from kete_core.builtins.json_serializer import JsonSerializer
    from kete_core.testing import build_sink

    serializer = JsonSerializer(ComponentConfig())
    messages = []
    for line in events_file.read_bytes().splitlines():
        event = parse_event(orjson.loads(line))
        messages.append(Message(event, serializer.serialize(event), serializer.content_type))

    async def deliver() -> float:
        sink = build_sink(kind, settings)
        await sink.start()
        started = time.perf_counter()
        for first in range(0, len(messages), 5000):
            if await sink.send(messages[first : first + 5000]) is not None:
                raise RuntimeError(f"the {kind} sink failed to deliver some messages")
        if done is not None:
            await asyncio.to_thread(done)
        elapsed = time.perf_counter() - started
        await sink.close()
        return elapsed

    return len(messages) / asyncio.run(deliver())
