"""Core path: events from a JSON-lines file through 5 routes (list, glob, regex and sql matchers,
both match modes, ``not:``), a templated destination and the json serializer, into a sink that
discards. Compared with the floor of any Python implementation: reading the file and
``orjson.loads`` of every line.

    python -m benchmarks.core_path [--events 1000000] [--spool memory|disk] [--runs 3] [--clock wall|cpu]

Each figure is the median of ``--runs`` runs (the best is printed too): on a shared virtual
machine single runs vary by a third. Floor and kete runs alternate, and the ratio is the median of
each run's kete time over the floor time measured just before it. ``--clock cpu`` counts the
process's CPU time instead of wall time: on a host with more runnable work than cores it leaves
out the time spent waiting for a core (and, with the disk spool, for the disk).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from benchmarks.common import machine, make_events
from kete_core.cli import tune_garbage_collection
from kete_core.pipeline import Pipeline
from kete_core.testing import load_app

if TYPE_CHECKING:
    from kete_core.application import Application

CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}

REALMS = """realm-names."8a955dbd-df2e-58e7-a768-55e2f4ed8113" = "master"
realm-names."ad0606b0-f742-5e2a-a1ef-aef6fbb09496" = "acme"
realm-names."a569cd72-4599-55df-9715-f7b8e9439c15" = "acme-staging"
realm-names."adb578cc-cd8e-567f-9195-3760145f4dc5" = "partner_portal"
"""

ROUTES = """
[routes.sessions]
event-matchers.sessions = "list:LOGIN, LOGIN_ERROR, LOGOUT, CODE_TO_TOKEN, REFRESH_TOKEN"
destination.kind = "discard"
destination.key = "keycloak.${realmLowerCase}.${kindLowerCase}"

[routes.errors]
realm-matchers.acme = "regex:acme(-.*)?"
event-matchers.errors = "glob:*_ERROR"
event-matchers.not-logins = "glob:not:LOGIN_ERROR"
event-match-mode = "all"
destination.kind = "discard"
destination.key = "errors.${realmKebabCase}.${eventTypeKebabCase}"

[routes.users]
realm-matchers.not-master = "list:not:master"
event-matchers.users = 'sql:USER\\_%'
event-matchers.groups = "sql:GROUP_MEMBERSHIP_%"
destination.kind = "discard"
destination.key = "users.${kindKebabCase}.${eventTypeLowerCase}"

[routes.audit]
event-matchers.everything = "glob:*"
event-matchers.no-tokens = "regex:not:(CODE_TO_TOKEN|REFRESH_TOKEN)(_ERROR)?"
event-match-mode = "all"
destination.kind = "discard"
destination.key = "audit.${realmKebabCase}.${eventTypeLowerCase}"

[routes.admin]
realm-matchers.all = "glob:*"
event-matchers.admin = "regex:.*_(CREATE|UPDATE|DELETE|ACTION)"
destination.kind = "discard"
destination.key = "admin.${kindKebabCase}.${eventTypeLowerCase}"
"""


def routes_app(workdir: Path, spool: str, sources: str = "") -> Application:
    """The 5 core-path routes (and *sources*, TOML) as an application, its data under *workdir*."""
    config = workdir / f"core-{spool}.toml"
    config.write_text(
        f'[kete]\nspool = "{spool}"\ndata-dir = "{workdir / ("data-" + spool)}"\nspool-max-events = 10000000\n'
        f"{sources}{ROUTES}"
    )
    return load_app(config)


def floor(path: Path, clock: Callable[[], float]) -> float:
    """Seconds to read *path* and orjson.loads each line: the least any Python router must do."""
    start = clock()
    with path.open("rb") as handle:
        for line in handle:
            orjson.loads(line)
    return clock() - start


def kete(path: Path, spool: str, workdir: Path, profile: Path | None, clock: Callable[[], float]) -> tuple[float, int]:
    app = routes_app(workdir, spool, f'[sources.replay]\nkind = "file"\npath = "{path}"\nresume = false\n{REALMS}')
    tune_garbage_collection()
    profiler = cProfile.Profile() if profile else None
    start = clock()
    if profiler:
        profiler.enable()
    stats = asyncio.run(Pipeline(app).run())
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    elapsed = clock() - start
    delivered = sum(route.delivered for route in stats.routes.values())
    assert sum(stats.received.values()) > 0 and not stats.failed
    return elapsed, delivered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--spool", choices=["memory", "disk"], default="memory")
    parser.add_argument("--runs", type=int, default=3, help="runs of each; the median is reported")
    parser.add_argument("--clock", choices=list(CLOCKS), default="wall", help="wall time, or the process's CPU time")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the (last) kete run here")
    args = parser.parse_args()
    workdir = Path(tempfile.gettempdir()) / "kete-bench"
    workdir.mkdir(exist_ok=True)
    path = make_events(workdir / f"events-{args.events}.jsonl", args.events)
    size = path.stat().st_size
    print(f"machine: {machine()}")
    print(
        f"input: {args.events} events, {size / args.events:.0f} bytes each on average, spool: {args.spool},"
        f" clock: {args.clock}"
    )
    # The floor and kete alternate, so that each ratio compares runs a few seconds apart: on a
    # shared machine the speed of both drifts by several per cent within minutes.
    clock = CLOCKS[args.clock]
    runs = [(floor(path, clock), *kete(path, args.spool, workdir, args.profile, clock)) for _ in range(args.runs)]
    bases = sorted(base for base, _, _ in runs)
    elapsed_all = sorted(elapsed for _, elapsed, _ in runs)
    ratios = [elapsed / base for base, elapsed, _ in runs]
    delivered = runs[0][2]
    if args.profile:
        pstats.Stats(str(args.profile)).sort_stats("tottime").print_stats(15)
    base, elapsed = statistics.median(bases), statistics.median(elapsed_all)
    for label, seconds, best in (
        ("floor (read + orjson.loads)", base, bases[0]),
        ("kete core path", elapsed, elapsed_all[0]),
    ):
        rate, micros = args.events / seconds, seconds / args.events * 1e6
        print(f"{label:<28} {rate:>10,.0f} events/s  {micros:6.2f} µs/event  (best {args.events / best:,.0f}/s)")
    print(f"deliveries over the 5 routes: {delivered:,}")
    print(
        f"kete / floor: {statistics.median(ratios):.2f}x the floor's time (median of the runs' ratios:"
        f" {', '.join(f'{ratio:.2f}' for ratio in ratios)})"
    )


if __name__ == "__main__":
    main()
