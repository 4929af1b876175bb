"""The Kafka source against Apache Kafka: parsing and rejecting records, committing offsets only
after delivery, and rebalances."""

from __future__ import annotations

import asyncio
import textwrap
import time
import uuid
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Consumer, TopicPartition
from kete_kafka.settings import KafkaSourceConfig
from kete_kafka.source import KafkaSource

from kete_core.config.tree import canonical
from kete_core.contracts import Receipt, Rejection
from kete_core.event import Event, parse_event
from kete_core.testing import read_jsonl

pytestmark = pytest.mark.kafka

FAST_GROUP = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}


class Intake:
    """An intake whose receipts the test resolves (``resolve``), or that resolves them at once."""

    def __init__(self, *, auto: bool = False) -> None:
        self.stopping = asyncio.Event()
        self.congested = False
        self.checkpoint = None
        self.auto = auto
        self.batches: list[tuple[list[Event], asyncio.Future[None]]] = []
        self.rejections: list[Rejection] = []
        self.ready: list[tuple[bool, str | None]] = []

    async def submit(self, events, checkpoint=None) -> Receipt:
        done = asyncio.get_running_loop().create_future()
        if self.auto:
            done.set_result(None)
        self.batches.append((list(events), done))
        return Receipt(done)

    def reject(self, rejection: Rejection) -> None:
        self.rejections.append(rejection)

    def set_ready(self, ready: bool, reason: str | None = None) -> None:
        self.ready.append((ready, reason))

    @property
    def ids(self) -> list[str]:
        return [event.id for events, _ in self.batches for event in events]

    def resolve(self, *, upto: int | None = None) -> None:
        for _, done in self.batches[:upto]:
            if not done.done():
                done.set_result(None)


def make_source(broker, topics: list[str], group: str, **dotted) -> KafkaSource:
    settings = {
        "bootstrap.servers": broker.bootstrap_servers,
        "group.id": group,
        "topics": topics,
        "commit-interval": "100ms",
        "poll-timeout": "100ms",
        "shutdown-timeout": "1s",
        **FAST_GROUP,
        **dotted,
    }
    return KafkaSource("kafka", KafkaSourceConfig.model_validate(canonical(settings)))


def committed(broker, group: str, topic: str, partitions: int = 1) -> list[int]:
    consumer = Consumer({**broker.client_config(), "group.id": group, "log_level": 0})
    try:
        found = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
    finally:
        consumer.close()
    return [tp.offset for tp in found]


async def eventually(check, timeout: float = 30.0, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        await asyncio.sleep(0.05)


def values(events: list[dict]) -> list[bytes]:
    return [orjson.dumps(event) for event in events]


def test_kete_run_reads_kete_and_keycloak_json_and_rejects_the_rest(
    kafka_broker, kafka_topic, kt, spawn_kete, tmp_path: Path
):
    raw_keycloak, names = kt.example_events()
    raw_keycloak = raw_keycloak[:30]
    kete_json = [parse_event(event).to_kete() for event in kt.make_events(30, prefix="kete")]
    malformed = [b"not json", b"[1, 2]", b'{"realmName": "acme"}', None, b"\xff\xfe{"]
    records = [*values(kete_json[:15]), *malformed, *values(raw_keycloak), *values(kete_json[15:])]
    kt.produce(kafka_broker.client_config(), kafka_topic, records)
    group = f"kete-{uuid.uuid4().hex[:8]}"
    realm_names = "\n".join(f'realm-names."{key}" = "{value}"' for key, value in names.items())
    config = tmp_path / "kete.toml"
    config.write_text(
        textwrap.dedent(f"""
        [kete]
        data-dir = "{tmp_path / "data"}"

        [sources.kafka]
        kind = "kafka"
        bootstrap.servers = "{kafka_broker.bootstrap_servers}"
        group.id = "{group}"
        topics = ["{kafka_topic}"]
        session.timeout.ms = 6000
        commit-interval = "100ms"
        """)
        + realm_names
        + textwrap.dedent(f"""

        [routes.all.destination]
        kind = "file"
        path = "{tmp_path / "out.jsonl"}"
        """)
    )
    kete = spawn_kete(config)
    out = tmp_path / "out.jsonl"
    deadline = time.monotonic() + 60
    while not (out.exists() and out.read_bytes().count(b"\n") >= 60) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert kete.stop() == 0, kete.log
    written = read_jsonl(out)
    assert sorted(event["id"] for event in written) == sorted(e["id"] for e in [*kete_json, *raw_keycloak])
    by_id = {event["id"]: event for event in written}
    assert by_id[raw_keycloak[0]["id"]]["realmName"] == names[raw_keycloak[0]["realmId"]]
    assert by_id[kete_json[0]["id"]] == kete_json[0]
    for offset in range(15, 20):
        assert f"source 'kafka': {kafka_topic}/0@{offset}: rejected:" in kete.log
    assert "5 rejected" in kete.log
    assert committed(kafka_broker, group, kafka_topic) == [len(records)]


async def test_offsets_are_committed_only_after_delivery(kafka_broker, kafka_topic, kt):
    events = kt.make_events(20)
    kt.produce(kafka_broker.client_config(), kafka_topic, values(events[:10]))
    group = f"kete-{uuid.uuid4().hex[:8]}"
    source = make_source(kafka_broker, [kafka_topic], group)
    intake = Intake()
    task = asyncio.create_task(source.run(intake))
    try:
        await eventually(lambda: len(intake.ids) == 10, message="the first 10 events")
        await asyncio.sleep(0.5)
        assert await asyncio.to_thread(committed, kafka_broker, group, kafka_topic) == [-1001]  # nothing yet
        intake.resolve()
        await eventually(
            lambda: committed(kafka_broker, group, kafka_topic) == [10], timeout=10, message="commit of 10"
        )
        await asyncio.to_thread(kt.produce, kafka_broker.client_config(), kafka_topic, values(events[10:]))
        await eventually(lambda: len(intake.ids) == 20, message="the next 10 events")
    finally:
        intake.stopping.set()
        # Stopping with the second batch undelivered: it is not committed, Kafka gives it again.
        await asyncio.wait_for(task, 60)
        await source.close()
    assert intake.ids == [event["id"] for event in events]
    assert await asyncio.to_thread(committed, kafka_broker, group, kafka_topic) == [10]
    assert intake.ready[0] == (False, "joining the consumer group") and (True, None) in intake.ready

    again = make_source(kafka_broker, [kafka_topic], group)
    second = Intake(auto=True)
    task = asyncio.create_task(again.run(second))
    try:
        await eventually(lambda: len(second.ids) == 10, message="re-delivery")
        await asyncio.sleep(0.5)
    finally:
        second.stopping.set()
        await asyncio.wait_for(task, 60)
        await again.close()
    assert second.ids == [event["id"] for event in events[10:]]
    assert await asyncio.to_thread(committed, kafka_broker, group, kafka_topic) == [20]


async def test_rebalance_commits_what_was_delivered_and_hands_over_the_rest(kafka_broker, kafka_topic, kt):
    config = kafka_broker.client_config()
    await asyncio.to_thread(kt.create_topic, config, kafka_topic, 2)
    first_half, second_half = kt.make_events(10, prefix="p0"), kt.make_events(10, prefix="p1")
    group = f"kete-{uuid.uuid4().hex[:8]}"
    a = make_source(kafka_broker, [kafka_topic], group, **{"revoke-timeout": "2s"})
    b = make_source(kafka_broker, [kafka_topic], group, **{"revoke-timeout": "2s"})
    a_intake, b_intake = Intake(), Intake(auto=True)
    a_task = asyncio.create_task(a.run(a_intake))
    b_task = None
    try:
        await asyncio.to_thread(kt.produce, config, kafka_topic, values(first_half), partition=0)
        await eventually(lambda: len(a_intake.ids) == 10, message="partition 0 at a")
        await asyncio.to_thread(kt.produce, config, kafka_topic, values(second_half), partition=1)
        await eventually(lambda: len(a_intake.ids) == 20, message="partition 1 at a")
        # Both partitions in flight when b joins and a must give up both (eager rebalance): partition 0
        # is delivered while a waits in the revoke, partition 1 never in time.
        settle = a._settle
        settled: list[float] = []

        async def slow_delivery(revoked):
            asyncio.get_running_loop().call_later(0.5, lambda: a_intake.resolve(upto=1))
            started = time.monotonic()
            try:
                return await settle(revoked)
            finally:
                settled.append(time.monotonic() - started)

        a._settle = slow_delivery
        a_intake.auto = True  # what a reads after the rebalance is delivered at once
        b_task = asyncio.create_task(b.run(b_intake))
        await eventually(
            lambda: len(a_intake.ids) + len(b_intake.ids) >= 30, timeout=60, message="re-delivery of partition 1"
        )
        await asyncio.sleep(1.0)
    finally:
        for intake in (a_intake, b_intake):
            intake.stopping.set()
        await asyncio.wait_for(asyncio.gather(*(t for t in (a_task, b_task) if t)), 60)
        await a.close()
        await b.close()
    assert settled and 1.5 < settled[0] < 5  # waited out the revoke timeout for partition 1
    redelivered = a_intake.ids[20:] + b_intake.ids
    assert sorted(redelivered) == sorted(event["id"] for event in second_half)
    assert await asyncio.to_thread(committed, kafka_broker, group, kafka_topic, 2) == [10, 10]


async def test_back_pressure_pauses_and_resumes_without_gaps(kafka_broker, kafka_topic, kt):
    events = kt.make_events(60)
    kt.produce(kafka_broker.client_config(), kafka_topic, values(events))
    group = f"kete-{uuid.uuid4().hex[:8]}"
    source = make_source(kafka_broker, [kafka_topic], group, **{"batch-size": 7, "max-in-flight": 2})
    intake = Intake()
    task = asyncio.create_task(source.run(intake))
    try:
        await eventually(lambda: len(intake.batches) == 2, message="two batches in flight")
        await asyncio.sleep(0.5)
        assert len(intake.batches) == 2  # paused: no third batch while two are in flight
        intake.congested = True
        intake.resolve()
        await asyncio.sleep(0.5)
        assert len(intake.batches) == 2  # the spool is full: still paused
        intake.congested = False
        while len(intake.ids) < 60:
            await eventually(lambda: any(not done.done() for _, done in intake.batches), message="a new batch")
            intake.resolve()
        await eventually(lambda: committed(kafka_broker, group, kafka_topic) == [60], timeout=10, message="commit")
    finally:
        intake.stopping.set()
        await asyncio.wait_for(task, 60)
        await source.close()
    assert intake.ids == [event["id"] for event in events]
    assert max(len(batch) for batch, _ in intake.batches) <= 7
