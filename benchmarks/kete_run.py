"""``kete run`` end to end, from a JSON-lines file into the ``discard`` sink: the ceiling of kete's
own pipeline (file source, routing, spool, serializer, delivery) that every ``kete run`` line of
``benchmarks.brokers``, ``benchmarks.destinations`` and ``benchmarks.cloud`` sits under.

    python -m benchmarks.kete_run [--events 100000] [--runs 3] [--spool disk|memory] [--profile FILE]

Each run is a real ``kete run`` process (start-up taken off by timing a one-event run, as
:func:`benchmarks.throughput.kete_rate` does); the figure is the median of ``--runs``, next to the
floor measured just before each run (reading the file and ``orjson.loads`` of each line in this
process). ``--profile`` runs the pipeline in-process under cProfile with the same configuration
instead, and prints where the time went.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import tempfile
import time
from pathlib import Path

import orjson

from benchmarks.common import machine, make_events
from benchmarks.throughput import kete_rate


def floor(path: Path) -> float:
    """Events/s of reading *path* and ``orjson.loads`` of each line."""
    started = time.perf_counter()
    count = 0
    with path.open("rb") as handle:
        for line in handle:
            orjson.loads(line)
            count += 1
    return count / (time.perf_counter() - started)


DESTINATION = 'kind = "discard"'


def profile(folder: Path, events_file: Path, spool: str, out: Path) -> None:
    """Run the same pipeline in-process under cProfile and print the top of it."""
    from kete_core.cli import tune_garbage_collection
    from kete_core.pipeline import Pipeline
    from kete_core.testing import load_app

    config = folder / "profile.toml"
    config.write_text(
        f'[kete]\nspool = "{spool}"\ndata-dir = "{folder / "profile-data"}"\n'
        f'[sources.replay]\nkind = "file"\npath = "{events_file}"\n'
        f"[routes.bench.destination]\n{DESTINATION}\n"
    )
    app = load_app(config)
    tune_garbage_collection()
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    asyncio.run(Pipeline(app).run())
    profiler.disable()
    print(f"in-process, profiled: {time.perf_counter() - started:.2f} s")
    profiler.dump_stats(out)
    pstats.Stats(str(out)).sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--spool", choices=["disk", "memory"], default="disk")
    parser.add_argument("--profile", type=Path, help="profile an in-process run instead, writing the stats here")
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory(prefix="kete-bench-run-") as tmp:
        folder = Path(tmp)
        events_file = make_events(folder / "events.jsonl", args.events)
        if args.profile:
            profile(folder, events_file, args.spool, args.profile)
            return
        rates, floors = [], []
        for _ in range(args.runs):
            floors.append(floor(events_file))
            rates.append(kete_rate(folder, events_file, args.events, DESTINATION, spool=args.spool))
        rate, base = statistics.median(rates), statistics.median(floors)
        print(f"file -> discard, {args.events:,} events, {args.spool} spool, median of {args.runs}:")
        runs = ", ".join(f"{r:,.0f}" for r in rates)
        print(f"  kete run {rate:,.0f} events/s ({1e6 / rate:.2f} µs/event; runs: {runs})")
        print(f"  floor    {base:,.0f} events/s ({1e6 / base:.2f} µs/event): {base / rate:.1f} times as fast")


if __name__ == "__main__":
    main()
