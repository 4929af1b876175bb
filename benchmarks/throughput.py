"""Destination throughput: kete next to the service's own client, one line per destination.

``python -m benchmarks.brokers``, ``python -m benchmarks.destinations`` and ``python -m benchmarks.cloud``
each run every module of their package that defines ``lines(events: int) -> list[Line]``: the module
starts its server (with the test helpers of ``tests/services``), publishes the same payloads with
kete and with the service's own client in a loop, and returns what it measured.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

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
