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


class TestCloudTasksSink(SinkContract):
    kind = "gcp-cloud-tasks"
    ordered = False  # CreateTask calls are in flight at once; Cloud Tasks promises no order either

    @pytest.fixture
    def sink_settings(self, cloud_tasks, key_file):
        cloud_tasks.queues.update({"other-realm", "acme-id"})
        return {
            "project": cloud_tasks.project,
            "location": cloud_tasks.location,
            "queue": "${realmLowerCase}",
            "target-url": "https://worker.example.com/events",
            "endpoint": cloud_tasks.endpoint,
            "use-plaintext": True,
            "authentication-type": "service-account-file-path",
            "credentials-file-path": str(key_file),
        }

    @pytest.fixture
    def read_back(self, cloud_tasks):
        return lambda: [task.body for task in cloud_tasks.tasks]

    @pytest.fixture
    def unreachable_settings(self):
        (port,) = free_ports(1)
        return {"project": "p", "location": "l", "queue": "events", "target-url": "http://127.0.0.1/",
                "endpoint": f"127.0.0.1:{port}", "use-plaintext": True, "timeout-seconds": 2}  # fmt: skip
