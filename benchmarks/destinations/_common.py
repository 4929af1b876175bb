"""What the websocket, socketio and signalr benchmarks share: their server in another process, the
payloads kete sends (the json serializer's bytes of the example events), and ``kete run`` timed
on a file of those events."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from benchmarks.common import make_events
from kete_core.builtins.json_serializer import JsonSerializer
from kete_core.contracts import ComponentConfig
from kete_core.event import parse_event
from kete_core.testing import write_config


@contextlib.contextmanager
def server(kind: str) -> Iterator[tuple[int, Callable[[], int]]]:
    """Run the *kind* server of :mod:`benchmarks.destinations._servers`: its port, and a function
    answering how many events it received."""
    with tempfile.TemporaryDirectory() as scratch:
        port_file = Path(scratch) / "port"
        process = subprocess.Popen([sys.executable, "-m", "benchmarks.destinations._servers", kind, str(port_file)])
        try:
            while not port_file.exists() or not port_file.read_text():
                assert process.poll() is None, f"the {kind} server exited"
                time.sleep(0.05)
            port, count_port = (int(part) for part in port_file.read_text().split())

            def received() -> int:
                with urllib.request.urlopen(f"http://127.0.0.1:{count_port}/", timeout=5) as response:
                    return int(response.read())

            yield port, received
        finally:
            process.terminate()
            process.wait()


def events_file(folder: Path, count: int) -> Path:
    """*count* events with the mix of ``examples/events.jsonl``."""
    return make_events(folder / "events.jsonl", count)


def payloads(path: Path) -> list[bytes]:
    """The bytes kete sends for each event of *path* (the json serializer's)."""
    serializer = JsonSerializer(ComponentConfig())
    return [serializer.serialize(parse_event(orjson.loads(line))) for line in path.read_bytes().splitlines()]


def kete_rate(
    folder: Path, destination: Mapping[str, Any], events: Path, count: int, received: Callable[[], int]
) -> float:
    """Events/s of ``kete run`` replaying *events* to *destination* (start-up included), checked
    against what the server received."""
    before = received()
    config = write_config(
        folder / "kete.toml",
        {
            "sources": {"replay": {"kind": "file", "path": events}},
            "routes": {"bench": {"destination": dict(destination)}},
        },
    )
    env = {**os.environ, "XDG_STATE_HOME": tempfile.mkdtemp(dir=folder)}  # a fresh spool and checkpoint
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "kete_core.cli", "run", str(config)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"kete run failed:\n{result.stderr[-3000:]}")
    delivered = received() - before
    assert delivered >= count, f"the server received {delivered} of {count} events"
    return count / elapsed
