"""A real Pub/Sub REST server on 127.0.0.1 (:mod:`kete_gcp.testing`) for the gcp plugin's tests."""

from __future__ import annotations

import json

import pytest
from kete_gcp.testing import CloudTasksServer, PubSubServer


@pytest.fixture
async def pubsub():
    server = await PubSubServer(topics={"events", "acme", "master", "partner-portal"}).start()
    yield server
    await server.stop()


@pytest.fixture
def key_file(tmp_path, pubsub):
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps(pubsub.service_account()))
    return path


@pytest.fixture
async def cloud_tasks(pubsub):
    """A Cloud Tasks gRPC server taking the tokens of the ``pubsub`` server's token endpoint."""
    server = await CloudTasksServer(queues={"events", "acme", "partner-portal"}, tokens=pubsub.issued).start()
    yield server
    await server.stop()
