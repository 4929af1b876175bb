"""kete's ``mqtt-3`` and ``mqtt-5`` sinks next to a plain paho-mqtt client, both publishing the same
payloads with QoS 1 to Mosquitto (the Debian package, started here) and counting a message only on
its PUBACK. The client publishes in a loop on its network thread, with as many messages in flight as
kete allows itself (the broker's Receive Maximum for MQTT 5, ``max-inflight`` for MQTT 3), and its
time runs from the first publish to the last acknowledgement. kete is ``kete run`` from a file
(source, spool, serializer, sink), less its start-up time."""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from benchmarks.common import make_events
from benchmarks.throughput import Line, kete_rate, sink_rate
from kete_core import ComponentConfig, parse_event
from kete_core.builtins.json_serializer import JsonSerializer
from tests.services.mosquitto_fixtures import MOSQUITTO, MosquittoBroker

TOPIC = "bench/keycloak"
RECEIVE_MAXIMUM = 20  # what Mosquitto announces to MQTT 5 clients by default


def client_rate(port: int, events_file: Path, *, v5: bool) -> float:
    """Events/s of paho publishing each event's kete payload (MQTT 5: with kete's properties)."""
    serializer = JsonSerializer(ComponentConfig())
    records = []
    for line in events_file.read_bytes().splitlines():
        event = parse_event(orjson.loads(line))
        properties = None
        if v5:
            properties = Properties(PacketTypes.PUBLISH)
            properties.ContentType = serializer.content_type
            properties.UserProperty = [("eventkind", event.kind), ("eventtype", event.event_type)]
        records.append((serializer.serialize(event), properties))
    done = threading.Event()
    acknowledged = 0

    def on_publish(*_: object) -> None:
        nonlocal acknowledged
        acknowledged += 1
        if acknowledged == len(records):
            done.set()

    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5 if v5 else paho.MQTTv311)
    client.on_publish = on_publish
    # The window kete keeps: Mosquitto's Receive Maximum (20) for MQTT 5, max-inflight for MQTT 3.
    client.max_inflight_messages_set(RECEIVE_MAXIMUM if v5 else 2048)
    client.connect("127.0.0.1", port)
    client.loop_start()
    started = time.perf_counter()
    for payload, properties in records:
        client.publish(TOPIC, payload, 1, False, properties)
    if not done.wait(300):
        raise RuntimeError(f"paho: {acknowledged} of {len(records)} acknowledged")
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return len(records) / elapsed


def lines(events: int) -> list[Line]:
    with tempfile.TemporaryDirectory(prefix="kete-bench-mqtt-") as tmp:
        folder = Path(tmp)
        broker = MosquittoBroker(MOSQUITTO, folder / "mosquitto")
        broker.start()
        try:
            events_file = make_events(folder / "events.jsonl", events)
            measured = []
            for kind, v5 in (("mqtt-3", False), ("mqtt-5", True)):
                client_rate(broker.port, events_file, v5=v5)  # warm-up
                client = client_rate(broker.port, events_file, v5=v5)
                destination = f'kind = "{kind}"\nhost = "127.0.0.1"\nport = {broker.port}\ntopic = "{TOPIC}"\n'
                kete = kete_rate(folder, events_file, events, destination)
                alone = sink_rate(kind, {"host": "127.0.0.1", "port": broker.port, "topic": TOPIC}, events_file)
                note = f"paho-mqtt 2, each PUBACK awaited; the sink alone: {alone:,.0f} events/s"
                measured.append(Line(f"{kind} (Mosquitto 2.0, QoS 1)", kete, client, note))
            return measured
        finally:
            broker.stop()
