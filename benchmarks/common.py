"""What every benchmark shares: the machine it ran on and realistic event files."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import orjson

from kete_core.event import Event, parse_event

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_EVENTS = ROOT / "examples" / "events.jsonl"


def machine() -> str:
    """One line naming the machine: CPU model, cores, memory, Python."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        memory = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 // 1024
    except OSError:
        memory = 0
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return (
        f"{model}, {os.cpu_count()} cores, {memory} GiB, {platform.python_implementation()} "
        f"{sys.version.split()[0]}, load average {load:.2f}"
    )


class ExampleEvents:
    """Events with the mix of ``examples/events.jsonl``, made on the fly with unique ids, parsed
    from bytes as a source would."""

    def __init__(self, realm_names: dict[str, str]) -> None:
        self.lines = [line for line in EXAMPLE_EVENTS.read_bytes().splitlines() if line.strip()]
        self.realm_names = realm_names

    def event(self, number: int) -> Event:
        """The *number*-th event, with id ``str(number)``."""
        data = orjson.loads(self.lines[number % len(self.lines)])
        data["id"] = str(number)
        return parse_event(data, self.realm_names)


def make_events(path: Path, count: int) -> Path:
    """Write *count* events with the mix of ``examples/events.jsonl`` (ids made unique)."""
    if path.exists() and sum(1 for _ in path.open("rb")) == count:
        return path
    sample = [orjson.loads(line) for line in EXAMPLE_EVENTS.read_bytes().splitlines() if line.strip()]
    with path.open("wb") as out:
        for number in range(count):
            event = dict(sample[number % len(sample)])
            event["id"] = f"{number:012d}-{event.get('id', '')}"[:36]
            out.write(orjson.dumps(event) + b"\n")
    return path
