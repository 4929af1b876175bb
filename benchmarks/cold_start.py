"""Cold start: how long ``kete --help`` and ``kete plugins`` take, and what importing the CLI costs.

    python -m benchmarks.cold_start [--runs 10] [--tree PATH ...]

Each command runs ``--runs`` times as a fresh ``python -m kete_core.cli`` process: its wall time,
and its CPU time (user + system), which a busy shared host inflates far less. The import cost is
``python -X importtime``'s cumulative time of ``kete_core.cli``. Medians are reported (and the
best). ``--tree`` runs another checkout's ``kete_core`` with this interpreter; given several
times, the checkouts take turns in every round, so that two builds are compared in alternating
runs on one machine.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import ROOT, machine

COMMANDS = (("--help",), ("plugins",))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(tree: Path, command: tuple[str, ...]) -> tuple[float, float]:
    """Wall and CPU seconds of one ``kete <command>`` in a fresh process."""
    cpu, start = _children_cpu(), time.perf_counter()
    subprocess.run([sys.executable, "-m", "kete_core.cli", *command], cwd=tree, capture_output=True, check=True)
    return time.perf_counter() - start, _children_cpu() - cpu


def import_cost(tree: Path) -> float:
    """Seconds ``import kete_core.cli`` takes in a fresh process, by ``-X importtime``."""
    report = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import kete_core.cli"],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    [line] = [line for line in report.splitlines() if line.rstrip().endswith("| kete_core.cli")]
    return int(line.split("|")[1]) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--tree", type=Path, action="append", help="a checkout whose kete_core to run (repeatable)")
    args = parser.parse_args()
    trees: list[Path] = args.tree or [ROOT]
    print(f"machine: {machine()}")
    # Trees and commands take turns in each round, so drift on a shared machine touches each alike.
    times: dict[tuple[Path, str], list[float]] = {}
    for _ in range(args.runs):
        for tree in trees:
            for command in COMMANDS:
                name = "kete " + " ".join(command)
                elapsed, cpu = run(tree, command)
                times.setdefault((tree, name), []).append(elapsed)
                times.setdefault((tree, name + " cpu"), []).append(cpu)
            times.setdefault((tree, "import"), []).append(import_cost(tree))
    for (tree, label), values in times.items():
        print(
            f"{tree}  {label:<16} median {statistics.median(values) * 1000:6.0f} ms  (best {min(values) * 1000:.0f} ms)"
        )


if __name__ == "__main__":
    main()
