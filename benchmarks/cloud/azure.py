"""kete's Azure sinks next to the vendor's own SDK publishing the same payloads in a loop.

- ``azure-storage-queue``: Azurite (npm, :mod:`tests.services.azurite_fixtures`); the client is the
  asynchronous ``azure-storage-queue`` SDK putting each event's kete JSON, Base64-encoded, one message after
  the other (Storage queues have no batch API; kete puts one queue's messages in order, as here).

kete is ``kete run`` from a file (source, spool, serializer, sink), less its start-up time.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from azure.storage.queue import BinaryBase64EncodePolicy
from azure.storage.queue.aio import QueueServiceClient

from benchmarks.common import make_events
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


def lines(events: int) -> list[Line]:
    with tempfile.TemporaryDirectory(prefix="kete-bench-azure-") as tmp:
        folder = Path(tmp)
        events_file = make_events(folder / "events.jsonl", events)
        return [_storage_queue(folder, events_file, events)]
