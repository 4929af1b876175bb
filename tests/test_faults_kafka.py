"""Fault tests against a real Apache Kafka broker: kill -9 of kete while it replays into a file and
a Kafka topic, and the broker down for 60 s in the middle of a run."""

from __future__ import annotations

import collections
import json
import random
import signal
import subprocess
import sys
import time

import pytest
from confluent_kafka import Consumer, TopicPartition

from kete_core.testing import run_kete
from tests.services.kafka_broker import KafkaBroker
from tests.test_dead_sink import append_events, metric, wait_until
from tests.test_faults import write_events, written
from tests.test_reliability import free_port, get

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def topic_ids(bootstrap: str, topic: str, expected: int, timeout: float = 120) -> collections.Counter[str]:
    """Every event id in *topic*, read from the start until *expected* distinct ids (or timeout)."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"check-{time.time_ns()}", "auto.offset.reset": "earliest",
         "enable.auto.commit": False}
    )  # fmt: skip
    counts: collections.Counter[str] = collections.Counter()
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = [TopicPartition(topic, p, 0) for p in metadata.topics[topic].partitions]
        consumer.assign(partitions)
        deadline = time.monotonic() + timeout
        while len(counts) < expected and time.monotonic() < deadline:
            for message in consumer.consume(1000, timeout=1.0):
                if message.error() is None:
                    counts[json.loads(message.value())["id"]] += 1
        # Read on a little: duplicates may trail the last new id.
        for message in consumer.consume(10000, timeout=2.0):
            if message.error() is None:
                counts[json.loads(message.value())["id"]] += 1
    finally:
        consumer.close()
    return counts


def test_kill_minus_9_with_file_and_kafka_sinks(kafka_broker, kafka_topic, tmp_path):
    total = 60_000
    source = tmp_path / "events.jsonl"
    write_events(source, total)
    out = tmp_path / "all.jsonl"
    cfg = tmp_path / "kete.toml"
    cfg.write_text(
        f'[kete]\ndata-dir = "{tmp_path / "data"}"\n'
        f'[sources.replay]\nkind = "file"\npath = "{source}"\nbatch-size = 500\n'
        f'[routes.file]\ndestination.kind = "file"\ndestination.path = "{out}"\n'
        f'[routes.kafka]\ndestination.kind = "kafka"\ndestination.bootstrap.servers = "{kafka_broker.bootstrap_servers}"\n'
        f'destination.topic = "{kafka_topic}"\n'
    )
    randomness = random.Random(7)
    line_size = len(source.read_bytes()) / total
    kills = 5
    for number in range(kills):
        process = subprocess.Popen([sys.executable, "-m", "kete_core.cli", "run", str(cfg)], stderr=subprocess.DEVNULL)
        target = (number + randomness.uniform(0.2, 0.9)) / (kills + 1) * total * line_size
        while process.poll() is None and written(out) < target:
            time.sleep(0.01)
        assert process.poll() is None, "the replay finished before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait()
    final = run_kete("run", str(cfg), timeout=600)
    assert final.returncode == 0, final.stderr[-3000:]

    expected = {f"e{number}" for number in range(total)}
    in_file = collections.Counter(json.loads(line)["id"] for line in out.read_text().splitlines())
    in_kafka = topic_ids(kafka_broker.bootstrap_servers, kafka_topic, total)
    for name, counts in (("file", in_file), ("kafka", in_kafka)):
        assert set(counts) == expected, f"{name}: missing {sorted(expected - set(counts))[:10]}"
        assert sum(counts.values()) - total <= kills * 10_000
    print(
        f"\nkill -9 x{kills}: every event in both sinks; duplicates: file {sum(in_file.values()) - total}, "
        f"kafka {sum(in_kafka.values()) - total}"
    )


def test_broker_down_for_a_minute_loses_nothing(kafka_topic, tmp_path):
    broker = KafkaBroker(tmp_path / "broker")
    broker.start()
    metrics_port = free_port()
    events = tmp_path / "events.jsonl"
    append_events(events, 0, 2000)
    cfg = tmp_path / "kete.toml"
    cfg.write_text(
        f'[kete]\ndata-dir = "{tmp_path / "data"}"\nmetrics.enabled = true\nmetrics.address = "127.0.0.1:{metrics_port}"\n'
        f'[sources.replay]\nkind = "file"\npath = "{events}"\nfollow = true\npoll-interval = "50ms"\n'
        f'[routes.kafka]\nretry.max-wait-duration = "2s"\nretry.multiplier = 2\n'
        f'destination.kind = "kafka"\ndestination.bootstrap.servers = "{broker.bootstrap_servers}"\n'
        f'destination.topic = "{kafka_topic}"\n'
    )
    kete = subprocess.Popen([sys.executable, "-m", "kete_core.cli", "run", str(cfg)], stderr=subprocess.PIPE)
    try:
        wait_until(lambda: metric(metrics_port, "kete_events_delivered_total") >= 2000, 60, "the first 2000")
        broker.stop()
        down_at = time.monotonic()
        append_events(events, 2000, 6000)
        wait_until(lambda: metric(metrics_port, "kete_spool_depth") >= 5000, 60, "the spool to grow")
        wait_until(lambda: get(f"http://127.0.0.1:{metrics_port}/ready")[0] == 503, 60, "/ready to say 503")
        time.sleep(max(0.0, 60 - (time.monotonic() - down_at)))
        broker.start()
        wait_until(lambda: metric(metrics_port, "kete_events_delivered_total") >= 8000, 180, "delivery after recovery")
        wait_until(lambda: metric(metrics_port, "kete_spool_depth") == 0, 60, "an empty spool")
        assert metric(metrics_port, "kete_events_dead_lettered_total") == 0
        kete.send_signal(signal.SIGTERM)
        assert kete.wait(timeout=60) == 0, kete.stderr.read().decode()[-3000:]
        counts = topic_ids(broker.bootstrap_servers, kafka_topic, 8000)
    finally:
        if kete.poll() is None:
            kete.kill()
            kete.wait()
        kete.stderr.close()
        broker.stop()
    assert set(counts) == {f"e{number}" for number in range(8000)}
    assert not (tmp_path / "data" / "dead-letters").exists()
    print(f"\nbroker down 60 s: all 8000 in the topic, {sum(counts.values()) - 8000} duplicates")
