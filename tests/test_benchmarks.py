"""The benchmarks' own configurations stay valid as kete's rules tighten: every event they route is
delivered (a benchmark that dead-letters part of its input measures the wrong thing)."""

from __future__ import annotations

import time

from benchmarks import core_path
from benchmarks.common import make_events


def test_the_core_path_benchmark_delivers_every_event_it_routes(tmp_path):
    events = make_events(tmp_path / "events.jsonl", 20_000)
    _seconds, delivered = core_path.kete(events, "memory", tmp_path, None, time.process_time)
    assert delivered > 20_000
