"""Memory: RSS at start, after 1M and after 10M events through the core path; it must stay flat.

Events are made on the fly from the mix of ``examples/events.jsonl`` (no 5 GB input file), parsed
from bytes as a file source would, and routed through the core-path routes into discarding sinks.

    python -m benchmarks.memory [--events 10000000] [--checkpoints 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from benchmarks.common import ExampleEvents, machine
from benchmarks.core_path import REALMS, routes_app
from kete_core.cli import tune_garbage_collection
from kete_core.contracts import ComponentConfig, Intake, Source
from kete_core.pipeline import Pipeline

NAMES = dict(line.split(" = ") for line in REALMS.replace("realm-names.", "").replace('"', "").splitlines())


def rss_mib() -> float:
    """Resident set size of this process, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class GeneratedSource(Source):
    """Submits *total* events in batches, made from the example mix with fresh ids, and records
    RSS whenever a checkpoint count is passed."""

    def __init__(self, total: int, every: int) -> None:
        super().__init__("generated", ComponentConfig())
        self.total = total
        self.every = every
        self.samples: list[tuple[int, float, float]] = []
        self.examples = ExampleEvents(NAMES)

    async def run(self, intake: Intake) -> None:
        start = time.perf_counter()
        self.samples.append((0, rss_mib(), 0.0))
        sent = 0
        while sent < self.total:
            batch = [self.examples.event(sent + offset) for offset in range(1000)]
            await intake.submit(batch)
            sent += len(batch)
            if sent % self.every == 0:
                self.samples.append((sent, rss_mib(), time.perf_counter() - start))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--checkpoints", type=int, default=1_000_000)
    parser.add_argument("--spool", choices=["memory", "disk"], default="memory")
    args = parser.parse_args()
    app = routes_app(Path(tempfile.mkdtemp(prefix="kete-memory-")), args.spool)
    source = GeneratedSource(args.events, args.checkpoints)
    app.sources = [source]
    tune_garbage_collection()
    print(f"machine: {machine()}")
    stats = asyncio.run(Pipeline(app).run())
    assert sum(stats.received.values()) == args.events and not stats.failed
    base = source.samples[1][1] if len(source.samples) > 1 else source.samples[0][1]
    print(f"{'events':>12} {'RSS MiB':>9} {'vs 1st checkpoint':>18} {'seconds':>8}")
    for count, rss, seconds in source.samples:
        print(f"{count:>12,} {rss:>9.1f} {rss - base:>+18.1f} {seconds:>8.1f}")
    growth = source.samples[-1][1] - base
    print(
        f"growth from {source.samples[1][0]:,} to {source.samples[-1][0]:,} events: {growth:+.1f} MiB (goal: within 20)"
    )


if __name__ == "__main__":
    main()
