"""The pulsar sink passes its contract against the real Pulsar standalone broker."""

from __future__ import annotations

import re

import pytest

from kete_core.testing import SinkContract
from kete_core.testing.services import free_ports

pytestmark = pytest.mark.pulsar


class TestPulsarSink(SinkContract):
    kind = "pulsar"

    @pytest.fixture
    def sink_settings(self, pulsar_broker, pulsar_topic):
        return {"service-url": pulsar_broker.service_url, "topic": f"{pulsar_topic}-${{realmLowerCase}}"}

    @pytest.fixture
    def read_back(self, pulsar_broker, pulsar_topic, pt):
        def read():
            pattern = re.compile(f"{re.escape(pulsar_topic)}-.*")
            return [message.payload for message in pt.read_topic(pulsar_broker.service_url, pattern)]

        return read

    @pytest.fixture
    def unreachable_settings(self, pulsar_topic):
        (port,) = free_ports(1)
        return {
            "service-url": f"pulsar://127.0.0.1:{port}",
            "topic": pulsar_topic,
            "operation-timeout-seconds": 2,
            "connection-timeout-seconds": 1,
            "send-timeout-seconds": 2,
        }
