"""Fixtures of kete-azure's tests: sinks, messages, and queues of the session's Azurite
(``tests/services/azurite_fixtures.py``) read back with the vendor's SDK."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterator

import pytest
from azure.storage.queue import QueueServiceClient
from kete_azure.testing import EventGridTopic, WebPubSubService
from kete_azure.testing.identity import OTHER_CREDENTIALS, IdentityEndpoint

from kete_core.testing import json_message, sink_builder


@pytest.fixture
def ev():
    """``ev(number, realm="acme", event_type="LOGIN")``: a user event as the json serializer's message."""
    return json_message


@pytest.fixture
async def make_sink():
    """Build sinks: ``make_sink("azure-storage-queue", **settings)`` (kebab-case keys); closed afterwards."""
    builders = {}
    contexts = []

    def build(kind: str, **settings):
        return builders[kind](**settings)

    for kind in ("azure-storage-queue", "azure-eventgrid", "azure-webpubsub", "azure-eventhubs", "azure-servicebus"):
        context = sink_builder(kind)
        builders[kind] = await context.__aenter__()
        contexts.append(context)
    yield build
    for context in contexts:
        await context.__aexit__(None, None, None)


class Queues:
    """Queues of the session's Azurite, made and read with the SDK (``azure-storage-queue``)."""

    def __init__(self, connection_string: str, **options: str) -> None:
        # Quick retries: a pooled connection dies with each emulator restart, and the default
        # back-off (15 s, then 18 s, ...) would stall the test rather than the sink.
        self.service = QueueServiceClient.from_connection_string(
            connection_string, retry_total=3, initial_backoff=0.1, increment_base=1, random_jitter_range=0, **options
        )
        self.made: list[str] = []

    def make(self, prefix: str = "kete") -> str:
        """A fresh queue; returns its name."""
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self.service.create_queue(name)
        self.made.append(name)
        return name

    def texts(self, name: str) -> list[str]:
        """Every message's text, oldest first, without taking them off the queue."""
        client = self.service.get_queue_client(name)
        return [message.content for message in client.peek_messages(max_messages=32)]

    def payloads(self, name: str) -> list[bytes]:
        """Every message's text Base64-decoded, as KETE's consumers read it."""
        return [base64.b64decode(text) for text in self.texts(name)]

    def messages(self, name: str) -> list:
        """Every message with its properties (expiry, insertion time)."""
        return list(self.service.get_queue_client(name).peek_messages(max_messages=32))


@pytest.fixture
def queues(azurite) -> Iterator[Queues]:
    found = Queues(azurite.connection_string)
    yield found
    for name in found.made:
        found.service.delete_queue(name)
    found.service.close()


@pytest.fixture
def queue(queues) -> str:
    return queues.make()


@pytest.fixture
def oauth_queues(azurite_oauth, pki) -> Iterator[Queues]:
    """Queues of the session's Azurite taking OAuth tokens (HTTPS), made and read with the account key."""
    found = Queues(azurite_oauth.connection_string, connection_verify=str(pki.ca_file))
    yield found
    for name in found.made:
        found.service.delete_queue(name)
    found.service.close()


ReadBack = Callable[[], list[bytes]]


@pytest.fixture
async def start_topic():
    """Start Event Grid topics: ``await start_topic(key=...)``; stopped afterwards."""
    topics: list[EventGridTopic] = []

    async def start(**settings) -> EventGridTopic:
        topic = await EventGridTopic(**settings).start()
        topics.append(topic)
        return topic

    yield start
    for topic in topics:
        await topic.stop()


@pytest.fixture
async def topic(start_topic) -> EventGridTopic:
    return await start_topic()


@pytest.fixture
async def start_service():
    """Start Web PubSub services: ``await start_service(key=...)``; stopped afterwards."""
    services: list[WebPubSubService] = []

    async def start(**settings) -> WebPubSubService:
        service = await WebPubSubService(**settings).start()
        services.append(service)
        return service

    yield start
    for service in services:
        await service.stop()


@pytest.fixture
async def pubsub(start_service) -> WebPubSubService:
    return await start_service()


@pytest.fixture
async def identity(monkeypatch):
    """A managed identity endpoint, named by this process's environment as App Service names it (and by
    that of ``kete run`` started by the test); stopped afterwards."""
    endpoint = await IdentityEndpoint().start()
    for name in OTHER_CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    for name, value in endpoint.environment().items():
        monkeypatch.setenv(name, value)
    yield endpoint
    await endpoint.stop()


SERVICE_BUS_QUEUES = frozenset(
    {"keycloak-events", "acme", "other-realm", "contract-acme", "contract-other-realm", "contract-acme-id"}
)
SERVICE_BUS_TOPICS = frozenset({"keycloak-topic"})


@pytest.fixture
def bus():
    """A Service Bus namespace (:class:`kete_azure.testing.amqp.AzureMessagingPeer`, AMQP 1.0 on 127.0.0.1)
    with the queues of :data:`SERVICE_BUS_QUEUES` and the topics of :data:`SERVICE_BUS_TOPICS`; closed afterwards."""
    from kete_azure.testing.amqp import AzureMessagingPeer

    peer = AzureMessagingPeer(event_hubs={}, queues=set(SERVICE_BUS_QUEUES), topics=set(SERVICE_BUS_TOPICS)).start()
    yield peer
    peer.close()


@pytest.fixture
def trust(pki) -> dict:
    """The ``tls.*`` settings that trust the test CA (the HTTPS test services' certificates)."""
    return {"trust-store": pki.store("pem-file-path", key=False, password=None)}
