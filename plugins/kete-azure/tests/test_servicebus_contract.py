"""The azure-servicebus sink passes the sink contract against the AMQP 1.0 peer."""

from __future__ import annotations

import pytest

from kete_core.testing import SinkContract
from kete_core.testing.services import free_ports

pytestmark = pytest.mark.azure


class TestServiceBusSink(SinkContract):
    kind = "azure-servicebus"

    @pytest.fixture
    def sink_settings(self, bus):
        # The contract's realms (acme, other-realm, acme-id) have their queues in the bus fixture.
        return {
            "connection-string": bus.connection_string(),
            "queue": "contract-${realmLowerCase}",
            "timeout-seconds": 5,
        }

    @pytest.fixture
    def read_back(self, bus):
        return lambda: [message.body for message in bus.messages()]

    @pytest.fixture
    def unreachable_settings(self):
        (port,) = free_ports(1)
        return {
            "connection-string": f"Endpoint=sb://127.0.0.1:{port};SharedAccessKeyName=a;SharedAccessKey=YQ==;"
            "UseDevelopmentEmulator=true",
            "queue": "q",
            "timeout-seconds": 2,
        }
