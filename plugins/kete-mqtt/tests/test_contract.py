"""The mqtt-3 and mqtt-5 sinks pass the sink contract against Mosquitto, read back by a paho subscriber."""

from __future__ import annotations

import pytest

from kete_core.testing import SinkContract
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
