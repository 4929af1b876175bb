"""The benchmarks' own configurations stay valid as kete's rules tighten: every event they route is
delivered (a benchmark that dead-letters part of its input measures the wrong thing)."""

from __future__ import annotations

import time

import pytest

from benchmarks import core_path, kete_run
from benchmarks.common import make_events
from benchmarks.throughput import kete_rate


def test_the_core_path_benchmark_delivers_every_event_it_routes(tmp_path):
    events = make_events(tmp_path / "events.jsonl", 20_000)
    _seconds, delivered = core_path.kete(events, "memory", tmp_path, None, time.process_time)
    assert delivered > 20_000


def test_the_kete_run_benchmark_counts_only_runs_that_delivered_everything(tmp_path):
    events = make_events(tmp_path / "events.jsonl", 2_000)
    with pytest.raises(RuntimeError, match="did not deliver all 2001 events") as raised:
        kete_rate(tmp_path, events, 2_001, kete_run.DESTINATION, spool="memory")
    assert "2000 events received, 0 rejected; route bench: 2000 matched, 2000 delivered, 0 failed" in str(raised.value)
