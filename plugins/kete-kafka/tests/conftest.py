"""Helpers for the Kafka plugin's tests: Keycloak events, reading topics back, background ``kete run``.

The brokers themselves are the session fixtures of ``tests/services/kafka_fixtures.py``
(``kafka_broker``, ``tansu_broker``, ``any_kafka``, ``kafka_topic``), registered by the root conftest.
"""

from __future__ import annotations

import time
import tomllib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from kete_core.testing import KeteProcess

REPO = Path(__file__).resolve().parents[3]
EXAMPLE_EVENTS = REPO / "examples" / "events.jsonl"


def example_events() -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The shipped Keycloak events and the realm id → name map of the quickstart."""
    events = [orjson.loads(line) for line in EXAMPLE_EVENTS.read_bytes().splitlines() if line.strip()]
    quickstart = tomllib.loads((REPO / "examples" / "quickstart.toml").read_text())
    return events, quickstart["sources"]["replay"]["realm-names"]


def make_events(
    count: int, *, prefix: str = "e", pad: int = 0, realms: Iterable[str] = ("acme", "master")
) -> list[dict]:
    """*count* user events (every fifth an admin event) with unique ids ``<prefix>-<n>``."""
    realms = list(realms)
    events = []
    for number in range(count):
        realm = realms[number % len(realms)]
        if number % 5 == 4:
            event = {
                "id": f"{prefix}-{number}", "time": 1767225600000 + number, "realmId": f"{realm}-id",
                "realmName": realm, "resourceType": "USER", "operationType": "CREATE",
                "resourcePath": f"users/{number}", "authDetails": {"realmId": f"{realm}-id", "userId": "admin"},
            }  # fmt: skip
        else:
            event = {
                "id": f"{prefix}-{number}", "time": 1767225600000 + number, "type": "LOGIN", "realmId": f"{realm}-id",
                "realmName": realm, "clientId": "web", "userId": f"user-{number}", "details": {"username": f"u{number}"},
            }  # fmt: skip
        if pad:
            size = len(orjson.dumps(event))
            event.setdefault("details", {})["pad"] = "x" * max(0, pad - size - 10)
        events.append(event)
    return events


@dataclass
class Record:
    """One record read back from Kafka."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]

    @property
    def header_map(self) -> dict[str, bytes]:
        return dict(self.headers)


def consumer_config(config: dict[str, str]) -> dict[str, Any]:
    return {
        **config,
        "group.id": f"kete-test-reader-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,
        "log_level": 0,
    }


def read_topics(
    config: dict[str, str],
    topics: Iterable[str],
    *,
    count: int | None = None,
    timeout: float = 30.0,
    idle: float = 2.0,
    until: Callable[[list[Record]], bool] | None = None,
) -> list[Record]:
    """Every record of *topics* from the beginning: until *count* are read or *until* says so, else
    until nothing new came for *idle* seconds (or *timeout* passed)."""
    consumer = Consumer(consumer_config(config))
    records: list[Record] = []
    try:
        deadline = time.monotonic() + timeout
        assignment: list[TopicPartition] = []
        pending = list(topics)
        while pending and time.monotonic() < deadline:
            metadata = consumer.list_topics(timeout=10)
            for topic in list(pending):
                found = metadata.topics.get(topic)
                if found is not None and found.error is None and found.partitions:
                    assignment += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in found.partitions]
                    pending.remove(topic)
            if pending:
                time.sleep(0.2)
        assert not pending, f"topics never appeared: {pending}"
        consumer.assign(assignment)
        last_new = time.monotonic()
        while time.monotonic() < deadline:
            if count is not None and len(records) >= count:
                break
            if until is not None and until(records):
                break
            if count is None and until is None and time.monotonic() - last_new > idle:
                break
            batch = consumer.consume(1000, 0.2)
            for message in batch:
                if message.error():
                    assert message.error().code() in (KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART)
                    continue
                records.append(
                    Record(
                        message.topic(), message.partition(), message.offset(), message.key(), message.value(),
                        list(message.headers() or []),
                    )
                )  # fmt: skip
            if batch:
                last_new = time.monotonic()
    finally:
        consumer.close()
    return records


def produce(config: dict[str, str], topic: str, values: Iterable[bytes | None], *, partition: int = -1) -> None:
    """Produce *values* to *topic* and wait for every acknowledgement."""
    failures: list[KafkaError] = []
    producer = Producer({**config, "linger.ms": 5, "log_level": 0})
    for value in values:
        producer.produce(
            topic,
            value,
            partition=partition,
            on_delivery=lambda err, _msg: failures.append(err) if err is not None else None,
        )
        producer.poll(0)
    assert producer.flush(60) == 0
    assert failures == []


def create_topic(config: dict[str, str], topic: str, partitions: int) -> None:
    """Create *topic* with *partitions* partitions and wait until it exists."""
    admin = AdminClient({**config, "log_level": 0})
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    futures[topic].result(30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = admin.list_topics(topic, timeout=10).topics.get(topic)
        if found is not None and found.error is None and len(found.partitions) == partitions:
            return
        time.sleep(0.1)
    raise AssertionError(f"topic {topic} did not appear")


@pytest.fixture
def kt() -> SimpleNamespace:
    """The helpers above, for test modules (which cannot import this conftest)."""
    return SimpleNamespace(
        example_events=example_events,
        make_events=make_events,
        read_topics=read_topics,
        produce=produce,
        create_topic=create_topic,
        KeteProcess=KeteProcess,
        consumer_config=consumer_config,
    )
