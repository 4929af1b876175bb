"""The azure-eventhubs sink passes the sink contract against the AMQP 1.0 peer (kete_azure.testing.amqp)."""

from __future__ import annotations

import uuid

import pytest

from kete_core.testing import SinkContract

pytestmark = pytest.mark.azure


class TestEventHubsSink(SinkContract):
    kind = "azure-eventhubs"

    @pytest.fixture
    def hub(self, azure_amqp) -> str:
        name = f"contract-{uuid.uuid4().hex[:8]}"
        azure_amqp.event_hubs[name] = 2
        return name

    @pytest.fixture
    def sink_settings(self, azure_amqp, hub):
        return {
            "connection-string": azure_amqp.connection_string(hub),
            "partition-key": "${realmLowerCase}",
            "timeout-seconds": 5,
        }

    @pytest.fixture
    def read_back(self, azure_amqp, hub):
        return lambda: [message.body for message in azure_amqp.messages(hub)]

    @pytest.fixture
    def unreachable_settings(self, azure_amqp, hub):
        connection = azure_amqp.connection_string(hub).replace(f":{azure_amqp.port}", ":9")
        return {"connection-string": connection, "timeout-seconds": 2}
