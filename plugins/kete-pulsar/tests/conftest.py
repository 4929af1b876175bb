"""Helpers for the Pulsar plugin's tests: reading topics back with an independent ``pulsar-client`` consumer,
background ``kete run``. The broker is the session fixture ``pulsar_broker`` of ``tests/services/pulsar_fixtures.py``
(with ``pulsar_topic``), registered by the root conftest."""

from __future__ import annotations

import logging
import re
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pulsar
import pytest

from kete_core.testing import KeteProcess

QUIET = logging.getLogger("kete.pulsar.tests")
QUIET.setLevel(logging.ERROR)


@dataclass(frozen=True)
class Received:
    """One message read back from Pulsar."""

    topic: str
    key: str
    properties: dict[str, str]
    payload: bytes


def read_topic(
    service_url: str,
    topics: list[str] | str | re.Pattern[str],
    *,
    count: int | None = None,
    timeout: float = 30.0,
    idle: float = 1.5,
) -> list[Received]:
    """Every message of *topics* from the earliest: until *count* are read, else until none came for *idle* s."""
    client = pulsar.Client(service_url, operation_timeout_seconds=30, logger=QUIET)
    try:
        consumer = client.subscribe(
            topics,
            f"reader-{uuid.uuid4().hex[:8]}",
            initial_position=pulsar.InitialPosition.Earliest,
            consumer_type=pulsar.ConsumerType.Exclusive,
        )
        received: list[Received] = []
        deadline = time.monotonic() + timeout
        last = time.monotonic()
        while time.monotonic() < deadline:
            if count is not None and len(received) >= count:
                break
            if count is None and time.monotonic() - last > idle:
                break
            try:
                message = consumer.receive(200)
            except pulsar.Timeout:
                continue
            received.append(
                Received(message.topic_name(), message.partition_key(), dict(message.properties()), message.data())
            )
            consumer.acknowledge(message)
            last = time.monotonic()
        consumer.close()
        return received
    finally:
        client.close()


def config_file(tmp_path: Path, destination: str, *, follow: bool = False, metrics_port: int | None = None) -> Path:
    """A kete configuration: the file source on ``events.jsonl`` and one route ``pulsar`` to *destination*."""
    metrics = f'metrics.enabled = true\nmetrics.address = "127.0.0.1:{metrics_port}"\n' if metrics_port else ""
    config = tmp_path / "kete.toml"
    config.write_text(
        textwrap.dedent(f"""
        [kete]
        data-dir = "{tmp_path / "data"}"
        """)
        + metrics
        + textwrap.dedent(f"""
        [sources.replay]
        kind = "file"
        path = "events.jsonl"
        follow = {"true" if follow else "false"}
        poll-interval = "50ms"

        [routes.pulsar]
        retry.wait-duration = "200ms"
        retry.max-wait-duration = "1s"
        [routes.pulsar.destination]
        kind = "pulsar"
        """)
        + textwrap.dedent(destination)
    )
    return config


@pytest.fixture
def spawn_kete() -> Iterator[Callable[..., KeteProcess]]:
    """Start ``kete run`` in the background; whatever still runs at the end of the test is killed."""
    started: list[KeteProcess] = []

    def spawn(config: Path) -> KeteProcess:
        process = KeteProcess("run", str(config), cwd=config.parent)
        started.append(process)
        return process

    yield spawn
    for process in started:
        process.kill()


@pytest.fixture
def pt() -> SimpleNamespace:
    """The helpers above, for test modules (which cannot import this conftest)."""
    return SimpleNamespace(read_topic=read_topic, config_file=config_file)
