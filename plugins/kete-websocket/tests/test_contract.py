"""The websocket sink passes the sink contract against a real aiohttp WebSocket server."""

from __future__ import annotations

import pytest

from kete_core.testing import SinkContract
from kete_core.testing.services import free_ports

pytestmark = pytest.mark.websocket


class TestWebSocketSink(SinkContract):
    kind = "websocket"

    @pytest.fixture
    def sink_settings(self, server):
        return {"url": f"{server.url}/events/${{realmLowerCase}}", "connection-timeout-seconds": 5}

    @pytest.fixture
    def read_back(self, server):
        return lambda: [frame.data.encode() for frame in server.frames]

    @pytest.fixture
    def unreachable_settings(self):
        (port,) = free_ports(1)
        return {"url": f"ws://127.0.0.1:{port}/events", "connection-timeout-seconds": 2}
