"""Waiting inside async tests whose real servers run on the test's own event loop (a grpc.aio server,
an aiohttp endpoint): nothing here blocks the loop. For an outage through ``kete run``, see
:func:`kete_core.testing.outage.run_through_an_outage`."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from kete_core.testing.outage import readiness


async def until(condition: Callable[[], bool], timeout: float = 30.0, what: str = "the condition") -> None:
    """Return once *condition* holds; fail naming *what* after *timeout* seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


T = TypeVar("T")


class Inbox(Generic[T]):
    """What a test client receives on its own thread, in arrival order: its thread calls
    :meth:`add`, the test reads :meth:`received` or waits with :meth:`wait_for`."""

    def __init__(self) -> None:
        self.messages: list[T] = []
        self._lock = threading.Lock()

    def add(self, message: T) -> None:
        with self._lock:
            self.messages.append(message)

    def received(self) -> list[T]:
        """A copy of what arrived so far."""
        with self._lock:
            return list(self.messages)

    def wait_for(self, condition: Callable[[list[T]], bool], timeout: float = 30.0) -> list[T]:
        """What arrived, once *condition* holds for it or *timeout* seconds passed (the test asserts)."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.received()
            if condition(got) or time.monotonic() > deadline:
                return got
            time.sleep(0.05)


def _answered(port: int, wanted: int, timeout: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        status, reasons = readiness(port)
        if status == wanted:
            return reasons
        assert time.monotonic() < deadline, f"/ready did not answer {wanted} within {timeout} s"
        time.sleep(0.1)


def not_ready(port: int, timeout: float = 30.0) -> dict[str, str]:
    """Why kete's ``/ready`` on *port* says it is not ready, by component (``"route r"``), once it
    answers 503 (kete refreshes it once a second); blocking, for tests that run ``kete run`` in the
    background rather than a server on their loop."""
    return _answered(port, 503, timeout)


def ready(port: int, timeout: float = 30.0) -> None:
    """Return once kete's ``/ready`` on *port* answers 200; blocking, as :func:`not_ready`."""
    _answered(port, 200, timeout)
