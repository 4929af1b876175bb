"""kete's ``pulsar`` sink next to a plain ``pulsar-client`` producer, both publishing the same payloads
(kete's JSON of each event, key = event type, KETE's three properties) to Apache Pulsar standalone (from
Maven Central, started here) with KETE's producer settings: LZ4, batching off, 1000 messages in flight,
each message counted on its send receipt. The client publishes with ``send_async`` in a loop, timed from
the first send to the last receipt; kete is ``kete run`` from a file (source, spool, serializer, sink),
less its start-up time."""

from __future__ import annotations

import logging
import tempfile
import threading
import time
import uuid
from pathlib import Path

import orjson
import pulsar

from benchmarks.common import make_events
from benchmarks.throughput import Line, kete_rate
from kete_core import ComponentConfig, parse_event
from kete_core.builtins.json_serializer import JsonSerializer
from tests.services.pulsar_fixtures import PULSAR, VERSION, PulsarBroker

QUIET = logging.getLogger("kete.pulsar.bench")
QUIET.setLevel(logging.ERROR)


def client_rate(service_url: str, topic: str, events_file: Path) -> float:
    """Events/s of pulsar-client publishing each event's kete payload with kete's key and properties."""
    serializer = JsonSerializer(ComponentConfig())
    records = []
    for line in events_file.read_bytes().splitlines():
        event = parse_event(orjson.loads(line))
        properties = {"eventkind": event.kind, "eventtype": event.event_type, "contenttype": serializer.content_type}
        records.append((serializer.serialize(event), properties, event.event_type))
    client = pulsar.Client(service_url, logger=QUIET)
    producer = client.create_producer(
        topic,
        compression_type=pulsar.CompressionType.LZ4,
        max_pending_messages=1000,
        block_if_queue_full=True,
        batching_enabled=False,
    )
    done = threading.Event()
    failed: list[pulsar.Result] = []
    acknowledged = 0
    lock = threading.Lock()

    def receipt(result: pulsar.Result, _message_id: object) -> None:
        nonlocal acknowledged
        if result != pulsar.Result.Ok:
            failed.append(result)
        with lock:
            acknowledged += 1
            if acknowledged == len(records):
                done.set()

    started = time.perf_counter()
    for payload, properties, key in records:
        producer.send_async(payload, receipt, properties=properties, partition_key=key)
    if not done.wait(600) or failed:
        raise RuntimeError(f"pulsar-client: {acknowledged} of {len(records)} receipts, failures {failed[:3]}")
    elapsed = time.perf_counter() - started
    client.close()
    return len(records) / elapsed


def lines(events: int) -> list[Line]:
    with tempfile.TemporaryDirectory(prefix="kete-bench-pulsar-") as tmp:
        folder = Path(tmp)
        broker = PulsarBroker(PULSAR, folder / "pulsar")
        broker.start()
        try:
            events_file = make_events(folder / "events.jsonl", events)
            topic = f"persistent://public/default/bench-{uuid.uuid4().hex[:8]}"
            client_rate(broker.service_url, f"{topic}-warm-up", events_file)
            client = client_rate(broker.service_url, f"{topic}-client", events_file)
            destination = f'kind = "pulsar"\nservice-url = "{broker.service_url}"\ntopic = "{topic}-kete"\n'
            kete = kete_rate(folder, events_file, events, destination)
            note = f"pulsar-client {pulsar.__version__}, LZ4, no batching (KETE's), each receipt awaited"
            return [Line(f"pulsar (Apache Pulsar {VERSION} standalone)", kete, client, note)]
        finally:
            broker.stop()
