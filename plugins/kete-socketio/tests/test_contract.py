"""The socketio sink passes the sink contract against a real python-socketio server."""

from __future__ import annotations

import orjson
import pytest

from kete_core.testing import SinkContract
from kete_core.testing.services import free_ports

pytestmark = pytest.mark.websocket


class TestSocketIoSink(SinkContract):
    kind = "socketio"

    @pytest.fixture
    def sink_settings(self, server):
        return {"url": server.url, "event-name": "keycloak-${realmLowerCase}", "timeout-seconds": 5}

    @pytest.fixture
    def read_back(self, server):
        return lambda: [orjson.dumps(item.data) for item in server.received]

    @pytest.fixture
    def unreachable_settings(self):
        (port,) = free_ports(1)
        return {"url": f"http://127.0.0.1:{port}", "event-name": "e", "timeout-seconds": 2}
