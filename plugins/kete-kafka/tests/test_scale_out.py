"""Scale-out: three ``kete run`` processes share one consumer group; one is SIGKILLed mid-run and
nothing is lost (duplicates are allowed, counted and printed)."""

from __future__ import annotations

import textwrap
import time
import uuid
from collections import Counter
from pathlib import Path

import orjson
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

EVENTS = 100_000
PARTITIONS = 6


def test_three_processes_one_killed_nothing_lost(kafka_broker, kafka_topic, kt, spawn_kete, tmp_path: Path):
    client = kafka_broker.client_config()
    source_topic, target_topic = f"{kafka_topic}-in", f"{kafka_topic}-out"
    kt.create_topic(client, source_topic, PARTITIONS)
    kt.create_topic(client, target_topic, PARTITIONS)
    events = kt.make_events(EVENTS, prefix="s")
    wanted = {event["id"] for event in events}
    kt.produce(client, source_topic, (orjson.dumps(event) for event in events))

    group = f"kete-scale-{uuid.uuid4().hex[:8]}"
    config = tmp_path / "kete.toml"
    config.write_text(
        textwrap.dedent(f"""
        [sources.kafka]
        kind = "kafka"
        bootstrap.servers = "{kafka_broker.bootstrap_servers}"
        group.id = "{group}"
        topics = ["{source_topic}"]
        session.timeout.ms = 6000
        heartbeat.interval.ms = 1000

        [routes.forward.destination]
        kind = "kafka"
        bootstrap.servers = "{kafka_broker.bootstrap_servers}"
        topic = "{target_topic}"
        """)
    )
    started = time.monotonic()
    kete = [spawn_kete(config, {"KETE_DATA_DIR": str(tmp_path / f"data-{n}")}, name=f"kete-{n}") for n in range(3)]

    reader = Consumer(kt.consumer_config(client))
    reader.assign([TopicPartition(target_topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    seen: Counter[str] = Counter()
    killed_at = None
    try:
        deadline = time.monotonic() + 300  # a rebalance after SIGKILL on 2 loaded cores can take minutes
        while len(seen) < EVENTS and time.monotonic() < deadline:
            for record in reader.consume(5000, 0.2):
                if record.error() is None:
                    seen[orjson.loads(record.value())["id"]] += 1
            if killed_at is None and len(seen) >= EVENTS * 0.3:
                kete[1].kill()
                killed_at = len(seen)
            for process in (kete[0], kete[2]):
                assert process.proc.poll() is None, process.log
        # Whatever the survivors still send (re-deliveries in flight) is counted too.
        for process in (kete[0], kete[2]):
            assert process.stop(60) == 0, process.log
        for record in reader.consume(100_000, 1.0):
            if record.error() is None:
                seen[orjson.loads(record.value())["id"]] += 1
    finally:
        reader.close()
    elapsed = time.monotonic() - started
    missing = wanted - set(seen)
    duplicates = sum(seen.values()) - len(seen)
    print(
        f"\nscale-out: {EVENTS} events over {PARTITIONS} partitions, 3 kete processes, one SIGKILLed after "
        f"{killed_at} had arrived; {len(seen)} distinct delivered, {len(missing)} missing, "
        f"{duplicates} duplicates, {elapsed:.1f}s"
    )
    assert killed_at is not None
    assert not missing, f"{len(missing)} events lost, e.g. {sorted(missing)[:5]}"
    assert set(seen) == wanted
    # Every partition of the input was committed to its end by the survivors.
    check = Consumer({**client, "group.id": group, "log_level": 0})
    try:
        offsets = check.committed([TopicPartition(source_topic, p) for p in range(PARTITIONS)], timeout=10)
        ends = [check.get_watermark_offsets(TopicPartition(source_topic, p), timeout=10)[1] for p in range(PARTITIONS)]
    finally:
        check.close()
    assert [tp.offset for tp in offsets] == ends
    assert sum(ends) == EVENTS
