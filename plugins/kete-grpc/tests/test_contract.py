"""The grpc sink passes the sink contract against a real grpcio server on 127.0.0.1."""

from __future__ import annotations

import pytest

from kete_core.testing import SinkContract
from kete_core.testing.services import free_ports

pytestmark = pytest.mark.grpc


class TestGrpcSink(SinkContract):
    kind = "grpc"

    @pytest.fixture
    def sink_settings(self, server):
        return {
            "host": "127.0.0.1",
            "port": server.port,
            "service": "kete.${realmPascalCase}",
            "method": "SendEvent",
            "use-plaintext": True,
            "max-concurrency": 1,
        }

    @pytest.fixture
    def read_back(self, server):
        return lambda: [call.request for call in server.events]

    @pytest.fixture
    def unreachable_settings(self):
        (port,) = free_ports(1)
        return {
            "host": "127.0.0.1", "port": port, "service": "kete.Events", "method": "SendEvent",
            "use-plaintext": True, "timeout-seconds": 2,
        }  # fmt: skip
