"""The azure-eventgrid sink passes the sink contract against an Event Grid topic on aiohttp."""

from __future__ import annotations

import orjson
import pytest

from kete_core.testing import SinkContract
from kete_core.testing.services import free_ports

pytestmark = pytest.mark.azure


class TestEventGridSink(SinkContract):
    kind = "azure-eventgrid"

    @pytest.fixture
    def sink_settings(self, topic):
        return {"endpoint": topic.url, "access-key": topic.key, "subject": "realms/${realmLowerCase}"}

    @pytest.fixture
    def read_back(self, topic):
        return lambda: [orjson.dumps(event["data"]) for event in topic.events]

    @pytest.fixture
    def unreachable_settings(self):
        (port,) = free_ports(1)
        return {"endpoint": f"http://127.0.0.1:{port}/api/events", "access-key": "k", "timeout-seconds": 2}
