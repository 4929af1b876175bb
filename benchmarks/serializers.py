"""Serializers: µs per event for each installed serializer on the same events, next to ``json``.

    python -m benchmarks.serializers [--events 20000] [--runs 5]

The events are the mix of ``examples/events.jsonl`` (user and admin events, details, long
representations). Each figure is the median of ``--runs`` runs of ``serialize_batch`` over all of
them (the path kete takes with every accepted batch); the ratio is to ``json``'s median.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import orjson

from benchmarks.common import machine, make_events
from kete_core import parse_event
from kete_core.discovery import installed, load
from kete_core.testing.contracts import validate_settings

# Serializers that need settings to run at all, with what a typical configuration sets.
SETTINGS = {
    "template": {
        "template-file-text": '{"id":"${id}","type":"${type}${operationType}","realm":"${realmName}",'
        '"user":"${userId}${authDetails.userId}","ip":"${ipAddress}","username":"${details.username}"}',
        "variable-escape": "json",
    }
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = make_events(Path(folder) / "events.jsonl", args.events)
        events = [parse_event(orjson.loads(line)) for line in path.read_bytes().splitlines()]
    print(f"{machine()}; {len(events)} events, median of {args.runs} runs")
    figures: dict[str, float] = {}
    for item in sorted(installed("serializer"), key=lambda item: (item.name != "json", item.name)):
        cls, info = load("serializer", item.name, path="benchmark")
        serializer = cls(validate_settings(cls.Config, SETTINGS.get(item.name, {}), "benchmark", info))
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            serializer.serialize_batch(events)
            times.append(time.perf_counter() - start)
        figures[item.name] = statistics.median(times) / len(events) * 1e6
        ratio = figures[item.name] / figures["json"]
        print(f"| `{item.name}` | {figures[item.name]:.2f} | {ratio:.1f}x |")


if __name__ == "__main__":
    main()
