"""Latency at a fixed offered rate: events are offered at 5,000/s (in batches every 10 ms, as a
busy Keycloak would produce them) and timed from the moment the source has read them to the
moment the sink acknowledged them. Reports p50, p99 and the maximum.

    python -m benchmarks.latency [--rate 5000] [--seconds 20] [--spool disk|memory]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.common import ExampleEvents, machine
from benchmarks.core_path import routes_app
from benchmarks.memory import NAMES
from kete_core.cli import tune_garbage_collection
from kete_core.contracts import ComponentConfig, DeliveryResults, Intake, Message, Sink, Source
from kete_core.pipeline import Pipeline


class PacedSource(Source):
    """Offers *rate* events per second for *seconds*, stamping each with the time it was read."""

    def __init__(self, rate: int, seconds: float, read_at: dict[str, float]) -> None:
        super().__init__("paced", ComponentConfig())
        self.rate, self.seconds, self.read_at = rate, seconds, read_at
        self.examples = ExampleEvents(NAMES)

    async def run(self, intake: Intake) -> None:
        tick = 0.01
        per_tick = max(1, int(self.rate * tick))
        start = time.perf_counter()
        sent = 0
        while time.perf_counter() - start < self.seconds:
            batch = []
            now = time.perf_counter()
            for _ in range(per_tick):
                batch.append(self.examples.event(sent))
                self.read_at[str(sent)] = now
                sent += 1
            await intake.submit(batch)
            next_tick = start + (sent / per_tick) * tick
            await asyncio.sleep(max(0.0, next_tick - time.perf_counter()))


class TimingSink(Sink):
    """Acknowledges at once and records when each event was acknowledged."""

    def __init__(self, acked_at: dict[str, list[float]]) -> None:
        self.acked_at = acked_at

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        now = time.perf_counter()
        for message in messages:
            self.acked_at.setdefault(message.event.data["id"], []).append(now)
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--spool", choices=["memory", "disk"], default="disk")
    args = parser.parse_args()
    app = routes_app(Path(tempfile.mkdtemp(prefix="kete-latency-")), args.spool)
    read_at: dict[str, float] = {}
    acked_at: dict[str, list[float]] = {}
    for route in app.routes:
        route.sink = TimingSink(acked_at)
    app.sources = [PacedSource(args.rate, args.seconds, read_at)]
    tune_garbage_collection()
    print(f"machine: {machine()}")
    asyncio.run(Pipeline(app).run())
    latencies = sorted(at - read_at[key] for key, times in acked_at.items() for at in times)
    quantiles = statistics.quantiles(latencies, n=100)
    print(f"offered {args.rate}/s for {args.seconds:.0f} s, spool {args.spool}: {len(read_at):,} events, "
          f"{len(latencies):,} deliveries")  # fmt: skip
    print(f"latency read → acknowledged: p50 {quantiles[49] * 1000:.1f} ms, p99 {quantiles[98] * 1000:.1f} ms, "
          f"max {latencies[-1] * 1000:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
