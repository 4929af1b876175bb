"""A benchmark's server in a process of its own, so that it does not share the measured process's cores'
time slices with kete or the client."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def serving(serve: Callable[[str], None], folder: Path) -> Iterator[int]:
    """Run ``serve(port_file)`` (a module-level function that listens on a free 127.0.0.1 port and writes
    it to *port_file*) in a spawned process; yield the port, and stop the process afterwards."""
    port_file = folder / f"port-{serve.__module__}.{serve.__qualname__}"
    # spawn: the server must not inherit this process's state (gRPC's threads do not survive a fork).
    process = multiprocessing.get_context("spawn").Process(target=serve, args=(str(port_file),), daemon=True)
    process.start()
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text():
            if time.monotonic() > deadline or not process.is_alive():
                raise RuntimeError(f"{serve.__module__}: the server did not start")
            time.sleep(0.05)
        yield int(port_file.read_text())
    finally:
        process.terminate()
        process.join(10)
