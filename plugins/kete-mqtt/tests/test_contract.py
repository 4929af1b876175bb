"""The mqtt-3 and mqtt-5 sinks pass the sink contract against Mosquitto, read back by a paho subscriber."""

from __future__ import annotations

import pytest

from kete_core import parse_event
from kete_core.testing import SinkContract, build_sink, user_event
from kete_core.testing.contracts import json_messages
from kete_core.testing.services import free_ports

pytestmark = pytest.mark.mqtt


class MqttContract(SinkContract):
    @pytest.fixture
    def sink_settings(self, mosquitto, topic_root):
        return {"host": "127.0.0.1", "port": mosquitto.port, "topic": f"{topic_root}/${{realmLowerCase}}"}

    @pytest.fixture
    def read_back(self, subscribe, topic_root):
        return subscribe(f"{topic_root}/#").payloads

    @pytest.fixture
    def unreachable_settings(self):
        (port,) = free_ports(1)
        return {"host": "127.0.0.1", "port": port, "topic": "t", "connection-timeout-seconds": 2}


class TestMqtt3Sink(MqttContract):
    kind = "mqtt-3"


class TestMqtt5Sink(MqttContract):
    kind = "mqtt-5"


@pytest.mark.parametrize("kind", ["mqtt-3", "mqtt-5"])
async def test_send_returns_only_once_every_message_is_acknowledged(kind, mosquitto, topic_root):
    # One in flight at a time: between two messages nothing is pending, which must not end the batch.
    sink = build_sink(kind, {"host": "127.0.0.1", "port": mosquitto.port, "topic": topic_root, "max-inflight": 1})
    await sink.start()
    acknowledged = []
    client = sink._client
    forward = client.on_publish

    def count(*args):
        acknowledged.append(args[2])
        forward(*args)

    client.on_publish = count
    try:
        assert await sink.send(json_messages([parse_event(user_event(n)) for n in range(30)])) is None
        assert len(acknowledged) == 30
    finally:
        await sink.close()
