"""Waiting inside async tests whose real servers run on the test's own event loop (a grpc.aio server,
an aiohttp endpoint): nothing here blocks the loop. For an outage through ``kete run``, see
:func:`kete_core.testing.outage.run_through_an_outage`."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any


async def until(condition: Callable[[], bool], timeout: float = 30.0, what: str = "the condition") -> None:
    """Return once *condition* holds; fail naming *what* after *timeout* seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def not_ready(port: int, timeout: float = 10.0) -> dict[str, Any]:
    """The body of kete's ``/ready`` on *port* once it answers 503 (kete refreshes it once a second);
    blocking, for tests that run ``kete run`` in the background rather than a server on their loop."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5):
                pass
        except urllib.error.HTTPError as error:
            body: dict[str, Any] = json.loads(error.read())
            return body
        except OSError:
            pass
        assert time.monotonic() < deadline, "/ready never answered 503"
        time.sleep(0.1)
