"""The azure-storage-queue sink passes the sink contract against Azurite."""

from __future__ import annotations

import pytest

from kete_core.testing import SinkContract
from kete_core.testing.services import free_ports

pytestmark = pytest.mark.azure

# The realms of the contract's valid events, as ${realmLowerCase} renders them (a realm known only
# by its id renders as the id). Storage queues must exist before messages are put.
_REALMS = ("acme", "other-realm", "acme-id")


class TestStorageQueueSink(SinkContract):
    kind = "azure-storage-queue"

    @pytest.fixture
    def sink_settings(self, azurite, queues):
        prefix = queues.make("contract")
        for realm in _REALMS:
            queues.service.create_queue(f"{prefix}-{realm}")
            queues.made.append(f"{prefix}-{realm}")
        return {
            "connection-string": azurite.connection_string,
            "queue": f"{prefix}-${{realmLowerCase}}",
            "timeout-seconds": 5,
        }

    @pytest.fixture
    def read_back(self, queues):
        return lambda: [payload for name in queues.made for payload in queues.payloads(name)]

    @pytest.fixture
    def unreachable_settings(self, azurite):
        (port,) = free_ports(1)
        return {
            "connection-string": azurite.connection_string.replace(
                azurite.url, f"http://127.0.0.1:{port}/devstoreaccount1"
            ),
            "queue": "q",
            "timeout-seconds": 2,
        }
