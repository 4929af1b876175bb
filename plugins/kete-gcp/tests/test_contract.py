"""The gcp-pubsub sink passes the sink contract against a real Pub/Sub REST server on 127.0.0.1."""

from __future__ import annotations

import pytest

from kete_core.testing import SinkContract
from kete_core.testing.services import free_ports

pytestmark = pytest.mark.gcp


class TestPubSubSink(SinkContract):
    kind = "gcp-pubsub"

    @pytest.fixture
    def sink_settings(self, pubsub, key_file):
        pubsub.topics.update({"other-realm", "acme-id"})
        return {
            "project": pubsub.project,
            "topic": "${realmLowerCase}",
            "ordering-key": "${realmLowerCase}",
            "url": pubsub.url,
            "authentication-type": "service-account-file-path",
            "credentials-file-path": str(key_file),
        }

    @pytest.fixture
    def read_back(self, pubsub):
        return lambda: [message.data for message in pubsub.published]

    @pytest.fixture
    def unreachable_settings(self):
        (port,) = free_ports(1)
        return {"project": "p", "topic": "events", "url": f"http://127.0.0.1:{port}", "timeout-seconds": 2}
