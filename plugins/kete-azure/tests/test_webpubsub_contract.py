"""The azure-webpubsub sink passes the sink contract against a Web PubSub service on aiohttp."""

from __future__ import annotations

import pytest

from kete_core.testing import SinkContract
from kete_core.testing.services import free_ports

pytestmark = pytest.mark.azure


class TestWebPubSubSink(SinkContract):
    kind = "azure-webpubsub"

    @pytest.fixture
    def sink_settings(self, pubsub):
        return {"connection-string": pubsub.connection_string, "hub": "keycloak", "group": "${realmLowerCase}"}

    @pytest.fixture
    def read_back(self, pubsub):
        return lambda: [message.body for message in pubsub.messages]

    @pytest.fixture
    def unreachable_settings(self):
        (port,) = free_ports(1)
        connection = f"Endpoint=http://127.0.0.1;Port={port};AccessKey=k;Version=1.0;"
        return {"connection-string": connection, "hub": "keycloak", "timeout-seconds": 2}
