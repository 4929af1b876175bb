"""The soap sink passes the sink contract against a real SOAP endpoint on 127.0.0.1."""

from __future__ import annotations

import pytest

from kete_core.testing import SinkContract
from kete_core.testing.services import free_ports

pytestmark = pytest.mark.soap


class TestSoapSink(SinkContract):
    kind = "soap"

    @pytest.fixture
    def sink_settings(self, server):
        return {"url": f"{server.url}/events/${{realmLowerCase}}", "max-concurrency": 1, "retry-attempts": 1}

    @pytest.fixture
    def read_back(self, server):
        return lambda: [envelope.payload for envelope in server.received]

    @pytest.fixture
    def unreachable_settings(self):
        (port,) = free_ports(1)
        return {"url": f"http://127.0.0.1:{port}/events", "retry-attempts": 1, "timeout-seconds": "2s"}
