"""Waiting inside async tests whose real servers run on the test's own event loop (a grpc.aio server,
an aiohttp endpoint) while ``kete run`` works in a subprocess: nothing here blocks the loop."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp


async def until(condition: Callable[[], bool], timeout: float = 30.0, what: str = "the condition") -> None:
    """Return once *condition* holds; fail naming *what* after *timeout* seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def readiness(port: int, *, ready: bool, timeout: float = 30.0) -> dict[str, Any]:
    """Poll kete's ``/ready`` on *port* until it answers 200 (*ready*) or 503; return its JSON body."""
    wanted = 200 if ready else 503
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    status, body = 0, ""
    async with aiohttp.ClientSession() as client:
        while loop.time() < deadline:
            try:
                async with client.get(f"http://127.0.0.1:{port}/ready") as response:
                    status, body = response.status, await response.text()
            except aiohttp.ClientError:
                pass  # kete is not serving yet
            if status == wanted:
                return dict(json.loads(body))
            await asyncio.sleep(0.05)
    raise AssertionError(f"/ready did not answer {wanted} within {timeout}s (last: {status} {body})")


async def dead_lettered(port: int) -> float:
    """``kete_events_dead_lettered_total`` from kete's ``/metrics`` on *port*, summed over its labels."""
    async with aiohttp.ClientSession() as client, client.get(f"http://127.0.0.1:{port}/metrics") as response:
        text = await response.text()
    name = "kete_events_dead_lettered_total"
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith((name + " ", name + "{")))
