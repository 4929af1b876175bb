"""What the Kafka sink and source share: librdkafka log forwarding, error classes, a worker thread."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from confluent_kafka import KafkaError

log = logging.getLogger("kete.kafka")

Result = TypeVar("Result")

# Errors that say the cluster cannot be reached or used at all, rather than that one message is bad.
UNREACHABLE = frozenset({
    KafkaError._TRANSPORT,
    KafkaError._ALL_BROKERS_DOWN,
    KafkaError._AUTHENTICATION,
    KafkaError._RESOLVE,
    KafkaError._SSL,
    KafkaError._TIMED_OUT,
    KafkaError.SASL_AUTHENTICATION_FAILED,
    KafkaError.CLUSTER_AUTHORIZATION_FAILED,
    KafkaError.BROKER_NOT_AVAILABLE,
})  # fmt: skip


class LibrdkafkaLog(logging.Logger):
    """Receives librdkafka's log lines (the ``logger`` client setting) and passes them on to
    ``kete.kafka`` with the component named, at most one line per 10 s for each kind of line.

    Connection failures (``FAIL``) are logged at INFO: kete reports an unreachable cluster itself,
    with the reason, and a broker that goes away logs one every reconnect attempt.
    """

    def __init__(self, component: str) -> None:
        super().__init__(f"kete.kafka.{component}")
        self.component = component
        self._last: dict[str, float] = {}

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:  # type: ignore[override]
        text = str(msg) % args if args else str(msg)
        facility = text.split(" ", 1)[0]
        now = time.monotonic()
        if now - self._last.get(facility, -60.0) < 10.0:
            return
        self._last[facility] = now
        level = logging.INFO if facility == "FAIL" else min(level, logging.WARNING)
        log.log(level, "%s: librdkafka: %s", self.component, text)


class Worker:
    """One thread for a client's blocking calls, so they never hold up the event loop and never
    run at the same time as each other."""

    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=name)

    async def run(self, call: Callable[..., Result], *args: Any) -> Result:
        """Run ``call(*args)`` on the worker thread and return its result."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, call, *args)

    def shutdown(self) -> None:
        """Let the thread end once its current call returns."""
        self._executor.shutdown(wait=False, cancel_futures=True)


def describe(error: KafkaError) -> str:
    """``NAME: text`` of a librdkafka error."""
    return f"{error.name()}: {error.str()}"
