"""The nats and nats-jetstream sinks pass the sink contract against the session's nats-server."""

from __future__ import annotations

import pytest

from kete_core.testing import SinkContract
from kete_core.testing.services import free_ports

pytestmark = pytest.mark.nats


def unreachable(**extra: object) -> dict[str, object]:
    (port,) = free_ports(1)
    return {
        "servers": f"nats://127.0.0.1:{port}",
        "subject": "nowhere",
        "authentication-method": "none",
        "connection-timeout-seconds": 2,
        **extra,
    }


class TestNatsSink(SinkContract):
    kind = "nats"

    @pytest.fixture
    def sink_settings(self, nats_server, capture):
        return {
            "servers": nats_server.url,
            "subject": f"{capture.prefix}.${{realmLowerCase}}",
            "authentication-method": "none",
            "headers": {"x-realm": "${realmLowerCase}"},
        }

    @pytest.fixture
    def read_back(self, capture):
        async def payloads() -> list[bytes]:
            return [message.payload for message in await capture.read()]

        return payloads

    @pytest.fixture
    def unreachable_settings(self):
        return unreachable()


class TestNatsJetStreamSink(TestNatsSink):
    kind = "nats-jetstream"

    @pytest.fixture
    def sink_settings(self, nats_server, capture):
        return {
            "servers": nats_server.url,
            "subject": f"{capture.prefix}.${{realmLowerCase}}",
            "stream": capture.name,
            "authentication-method": "none",
        }

    @pytest.fixture
    def unreachable_settings(self):
        return unreachable(stream="NOWHERE")
