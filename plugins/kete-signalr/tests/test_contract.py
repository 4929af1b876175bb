"""The signalr sink passes the sink contract against a SignalR hub on aiohttp."""

from __future__ import annotations

import pytest

from kete_core.testing import SinkContract
from kete_core.testing.services import free_ports

pytestmark = pytest.mark.websocket


class TestSignalRSink(SinkContract):
    kind = "signalr"

    @pytest.fixture
    def sink_settings(self, hub):
        return {"url": hub.url, "hub-method": "Send${realmPascalCase}", "timeout-seconds": 5}

    @pytest.fixture
    def read_back(self, hub):
        return lambda: [call.arguments[0].encode() for call in hub.invocations]

    @pytest.fixture
    def unreachable_settings(self):
        (port,) = free_ports(1)
        return {"url": f"http://127.0.0.1:{port}/hubs/events", "timeout-seconds": 2}
