"""kete's Azure sinks next to the vendor's own SDK publishing the same payloads in a loop.

- ``azure-storage-queue``: Azurite (npm, :mod:`tests.services.azurite_fixtures`); the client is the
  asynchronous ``azure-storage-queue`` SDK putting each event's kete JSON, Base64-encoded, one message after
  the other (Storage queues have no batch API; kete puts one queue's messages in order, as here).

- ``azure-eventgrid``: the test topic of :mod:`kete_azure.testing` (aiohttp, checking each publish as Event
  Grid does) in another process; the client is the asynchronous ``azure-eventgrid`` SDK publishing the same
  events 500 at a time (kete's file source hands over batches of 500, each one publish).

- ``azure-webpubsub``: the test service of :mod:`kete_azure.testing` (aiohttp, checking each send's JWT as
  Web PubSub does) in another process; the client is the vendor's asynchronous
  ``azure-messaging-webpubsubservice`` SDK (in the ``[test]`` extra) sending each event to the hub, one
  after the other (the service has no batch send; kete sends in order, as here).

- ``azure-eventhubs``: the AMQP 1.0 peer of :mod:`kete_azure.testing.amqp` (behaving as Event Hubs towards a
  producer) in another process; the client is the vendor's asynchronous ``azure-eventhub`` producer sending
  the same events, with the same three application properties, in SDK batches of up to 500 (kete's file
  source hands over batches of 500).
- ``azure-servicebus``: the AMQP 1.0 peer of :mod:`kete_azure.testing.amqp` (python-qpid-proton, checking
  the SAS token and unpacking each batch as Service Bus does) in another process; the client is the vendor's
  asynchronous ``azure-servicebus`` SDK sending the same payloads to the queue in ``ServiceBusMessageBatch``es of
  500 (kete's file source hands over batches of 500, each one or more SDK batches).

kete is ``kete run`` from a file (source, spool, serializer, sink), less its start-up time.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import orjson
from azure.core.credentials import AzureKeyCredential
from azure.eventgrid import EventGridEvent
from azure.eventgrid.aio import EventGridPublisherClient
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient
from azure.servicebus import ServiceBusMessage
from azure.servicebus.aio import ServiceBusClient
from azure.storage.queue import BinaryBase64EncodePolicy
from azure.storage.queue.aio import QueueServiceClient

from benchmarks.common import make_events
from benchmarks.destinations._server import serving
from benchmarks.destinations.websocket import payloads
from benchmarks.throughput import Line, kete_rate
from kete_core.testing.services import Service
from tests.services.azurite_fixtures import ACCOUNT_KEY, ACCOUNT_NAME, AZURITE_QUEUE


async def _storage_queue_client(connection_string: str, messages: list[bytes]) -> float:
    async with QueueServiceClient.from_connection_string(connection_string, retry_total=0) as service:
        await service.create_queue("client")
        queue = service.get_queue_client("client", message_encode_policy=BinaryBase64EncodePolicy())
        started = time.perf_counter()
        for message in messages:
            await queue.send_message(message)
        return len(messages) / (time.perf_counter() - started)


async def _make_queue(connection_string: str, name: str) -> None:
    async with QueueServiceClient.from_connection_string(connection_string) as service:
        await service.create_queue(name)


def _storage_queue(folder: Path, events_file: Path, events: int) -> Line:
    with Service(AZURITE_QUEUE, folder / "azurite") as azurite:
        url = f"http://{azurite.address('queue')}/{ACCOUNT_NAME}"
        connection = f"AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};QueueEndpoint={url}"
        client = asyncio.run(_storage_queue_client(connection, payloads(events_file)))
        asyncio.run(_make_queue(connection, "kete"))
        destination = f'kind = "azure-storage-queue"\nconnection-string = "{connection}"\nqueue = "kete"\n'
        kete = kete_rate(folder, events_file, events, destination)
    return Line("azure-storage-queue (Azurite)", kete, client, "one PutMessage per event, in order")


BATCH = 500


def _serve_topic(port_file: str) -> None:
    """The test topic of :mod:`kete_azure.testing` (run in its own process)."""
    from kete_azure.testing import EventGridTopic

    async def main() -> None:
        topic = await EventGridTopic().start()
        Path(port_file).write_text(str(topic.port))
        await asyncio.Event().wait()

    asyncio.run(main())


async def _eventgrid_client(url: str, key: str, messages: list[bytes]) -> float:
    async with EventGridPublisherClient(url, AzureKeyCredential(key), retry_total=0) as client:
        started = time.perf_counter()
        for start in range(0, len(messages), BATCH):
            chunk = messages[start : start + BATCH]
            await client.send([EventGridEvent("LOGIN", "KeycloakEvent", orjson.loads(m), "1.0") for m in chunk])
        return len(messages) / (time.perf_counter() - started)


def _eventgrid(folder: Path, events_file: Path, events: int) -> Line:
    from kete_azure.testing import EventGridTopic

    key = EventGridTopic.key
    with serving(_serve_topic, folder) as port:
        url = f"http://127.0.0.1:{port}/api/events"
        client = asyncio.run(_eventgrid_client(url, key, payloads(events_file)))
        destination = f'kind = "azure-eventgrid"\nendpoint = "{url}"\naccess-key = "{key}"\n'
        kete = kete_rate(folder, events_file, events, destination)
    return Line("azure-eventgrid (aiohttp topic)", kete, client, f"one publish per {BATCH} events")


def _serve_pubsub(port_file: str) -> None:
    """The test Web PubSub service of :mod:`kete_azure.testing` (run in its own process)."""
    from kete_azure.testing import WebPubSubService

    async def main() -> None:
        service = await WebPubSubService().start()
        Path(port_file).write_text(str(service.port))
        await asyncio.Event().wait()

    asyncio.run(main())


async def _webpubsub_client(connection_string: str, messages: list[bytes]) -> float:
    client = WebPubSubServiceClient.from_connection_string(connection_string, hub="keycloak", retry_total=0)
    async with client:
        started = time.perf_counter()
        for message in messages:
            await client.send_to_all(message.decode(), content_type="application/json")
        return len(messages) / (time.perf_counter() - started)


def _webpubsub(folder: Path, events_file: Path, events: int) -> Line:
    from kete_azure.testing import WebPubSubService

    own = folder / "webpubsub"  # serving() names its port file after the module, shared with Event Grid's
    own.mkdir()
    with serving(_serve_pubsub, own) as port:
        connection = f"Endpoint=http://127.0.0.1;Port={port};AccessKey={WebPubSubService.key};Version=1.0;"
        client = asyncio.run(_webpubsub_client(connection, payloads(events_file)))
        destination = f'kind = "azure-webpubsub"\nconnection-string = "{connection}"\nhub = "keycloak"\n'
        kete = kete_rate(folder, events_file, events, destination)
    return Line("azure-webpubsub (aiohttp service)", kete, client, "one send per event, in order")


def _serve_eventhubs(port_file: str) -> None:
    """The AMQP 1.0 peer of :mod:`kete_azure.testing.amqp` (run in its own process)."""
    from kete_azure.testing.amqp import AzureMessagingPeer

    peer = AzureMessagingPeer(event_hubs={"keycloak": 4}).start()
    Path(port_file).write_text(str(peer.port))
    while True:
        time.sleep(3600)


async def _eventhubs_client(connection_string: str, messages: list[bytes]) -> float:
    from azure.eventhub import EventData
    from azure.eventhub.aio import EventHubProducerClient

    # The application properties kete sends with each event (KETE's), worked out before the clock starts.
    properties = []
    for message in messages:
        event = orjson.loads(message)
        kind = "ADMIN_EVENT" if "operationType" in event else "EVENT"
        kind_type = event.get("type") or f"{event.get('resourceType')}_{event.get('operationType')}"
        properties.append({"eventkind": kind, "eventtype": kind_type, "contenttype": "application/json"})

    def data(number: int) -> EventData:
        made = EventData(messages[number])
        made.properties = properties[number]
        return made

    async with EventHubProducerClient.from_connection_string(connection_string, retry_total=0) as client:
        started = time.perf_counter()
        for start in range(0, len(messages), BATCH):
            batch = await client.create_batch()
            for number in range(start, min(start + BATCH, len(messages))):
                try:
                    batch.add(data(number))
                except ValueError:  # full: send it and start another
                    await client.send_batch(batch)
                    batch = await client.create_batch()
                    batch.add(data(number))
            await client.send_batch(batch)
        return len(messages) / (time.perf_counter() - started)


def _eventhubs(folder: Path, events_file: Path, events: int) -> Line:
    with serving(_serve_eventhubs, folder) as port:
        connection = (
            f"Endpoint=sb://127.0.0.1:{port};SharedAccessKeyName=RootManageSharedAccessKey;"
            "SharedAccessKey=cGVlci1rZXk=;EntityPath=keycloak;UseDevelopmentEmulator=true"
        )
        client = asyncio.run(_eventhubs_client(connection, payloads(events_file)))
        destination = f'kind = "azure-eventhubs"\nconnection-string = "{connection}"\n'
        kete = kete_rate(folder, events_file, events, destination)
    return Line("azure-eventhubs (AMQP 1.0 peer)", kete, client, f"SDK batches of up to {BATCH} events")


def _serve_bus(port_file: str) -> None:
    """The AMQP 1.0 peer of :mod:`kete_azure.testing.amqp` with the queue ``kete`` (run in its own process)."""
    import threading

    from kete_azure.testing.amqp import AzureMessagingPeer

    peer = AzureMessagingPeer(event_hubs={}, queues={"kete", "client"}).start()
    Path(port_file).write_text(str(peer.port))
    threading.Event().wait()


async def _servicebus_client(connection_string: str, messages: list[bytes]) -> float:
    # The application properties kete sends with each message (KETE's), worked out before the clock starts.
    properties = []
    for message in messages:
        event = orjson.loads(message)
        kind = "ADMIN_EVENT" if "operationType" in event else "EVENT"
        kind_type = event.get("type") or f"{event.get('resourceType')}_{event.get('operationType')}"
        properties.append({"eventkind": kind, "eventtype": kind_type, "contenttype": "application/json"})
    client = ServiceBusClient.from_connection_string(connection_string, retry_total=0)
    async with client, client.get_queue_sender("client") as sender:
        started = time.perf_counter()
        for start in range(0, len(messages), BATCH):
            batch = await sender.create_message_batch()
            for number in range(start, min(start + BATCH, len(messages))):
                batch.add_message(
                    ServiceBusMessage(
                        messages[number], content_type="application/json", application_properties=properties[number]
                    )
                )
            await sender.send_messages(batch)
        return len(messages) / (time.perf_counter() - started)


def _servicebus(folder: Path, events_file: Path, events: int) -> Line:
    from kete_azure.testing.amqp import AzureMessagingPeer

    own = folder / "servicebus"
    own.mkdir()
    with serving(_serve_bus, own) as port:
        connection = AzureMessagingPeer(port=port).connection_string()
        client = asyncio.run(_servicebus_client(connection, payloads(events_file)))
        destination = f'kind = "azure-servicebus"\nconnection-string = "{connection}"\nqueue = "kete"\n'
        kete = kete_rate(folder, events_file, events, destination)
    return Line("azure-servicebus (AMQP 1.0 peer)", kete, client, f"SDK batches, {BATCH} events each")


def lines(events: int) -> list[Line]:
    with tempfile.TemporaryDirectory(prefix="kete-bench-azure-") as tmp:
        folder = Path(tmp)
        events_file = make_events(folder / "events.jsonl", events)
        return [
            _storage_queue(folder, events_file, events),
            _eventgrid(folder, events_file, events),
            _webpubsub(folder, events_file, events),
            _eventhubs(folder, events_file, events),
            _servicebus(folder, events_file, events),
        ]
