"""Waiting inside async tests whose real servers run on the test's own event loop (a grpc.aio server,
an aiohttp endpoint): nothing here blocks the loop. For an outage through ``kete run``, see
:func:`kete_core.testing.outage.run_through_an_outage`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(condition: Callable[[], bool], timeout: float = 30.0, what: str = "the condition") -> None:
    """Return once *condition* holds; fail naming *what* after *timeout* seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
