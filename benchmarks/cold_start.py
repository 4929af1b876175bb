"""Cold start: how long ``kete --help`` and ``kete plugins`` take, and what importing the CLI costs.

    python -m benchmarks.cold_start [--runs 10] [--tree PATH]

Each command runs ``--runs`` times as a fresh ``python -m kete_core.cli`` process (wall time); the
import cost is ``python -X importtime``'s cumulative time of ``kete_core.cli``. Medians are
reported (and the best). ``--tree`` runs another checkout's ``kete_core`` with this interpreter,
so that two builds can be compared in alternating runs on one machine.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import ROOT, machine

COMMANDS = (("--help",), ("plugins",))


def wall(tree: Path, command: tuple[str, ...]) -> float:
    """Seconds for one ``kete <command>`` in a fresh process."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kete_core.cli", *command], cwd=tree, capture_output=True, check=True)
    return time.perf_counter() - start


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
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout whose kete_core to run")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"tree: {args.tree}")
    # Commands alternate within each round, so drift on a shared machine touches each alike.
    times: dict[str, list[float]] = {" ".join(command): [] for command in COMMANDS}
    imports: list[float] = []
    for _ in range(args.runs):
        for command in COMMANDS:
            times[" ".join(command)].append(wall(args.tree, command))
        imports.append(import_cost(args.tree))
    for label, values in [*((f"kete {name}", values) for name, values in times.items()), ("import", imports)]:
        print(f"{label:<14} median {statistics.median(values) * 1000:6.0f} ms  (best {min(values) * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
