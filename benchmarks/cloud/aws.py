"""kete's AWS sinks next to plain boto3 batch calls, on the same payloads, against the moto server.

Each kind is driven the way kete drives a sink (``send`` with batches of 1000 messages: the sink cuts
them into the service's batches and keeps ``max-concurrency`` requests in flight); boto3 sends the
same payloads with the same batch API, one request after the other, as a plain loop does. moto, a
Python server on the same two cores, bounds both: the figures compare the clients, not AWS.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.throughput import Line
from kete_core.contracts import Message
from kete_core.event import parse_event
from kete_core.testing.contracts import build_sink, json_messages, user_event
from kete_core.testing.services import Service
from tests.services.moto_fixtures import MOTO, REGION, moto_url

CREDENTIALS = {"aws_access_key_id": "AKIDBENCHMARK", "aws_secret_access_key": "benchmark"}


def _messages(count: int) -> list[Message]:
    return json_messages([parse_event(user_event(number, realm="acme")) for number in range(count)])


async def _kete(kind: str, settings: dict[str, Any], messages: list[Message]) -> float:
    sink = build_sink(kind, settings, route="bench")
    await sink.start()
    try:
        await sink.send(messages[:50])  # warm up: connections, credentials
        started = time.perf_counter()
        for index in range(0, len(messages), 1000):
            results = await sink.send(messages[index : index + 1000])
            assert results is None, results
        return len(messages) / (time.perf_counter() - started)
    finally:
        await sink.close()


def _client(send: Callable[[list[Message]], None], size: int, messages: list[Message]) -> float:
    send(messages[:size])
    started = time.perf_counter()
    for index in range(0, len(messages), size):
        send(messages[index : index + size])
    return len(messages) / (time.perf_counter() - started)


def _attributes(message: Message) -> dict[str, Any]:
    values = {
        "eventkind": message.event.kind,
        "eventtype": message.event.event_type,
        "contenttype": message.content_type,
    }
    return {name: {"DataType": "String", "StringValue": value} for name, value in values.items()}


def lines(events: int) -> list[Line]:
    import boto3

    service = Service(MOTO, Path(tempfile.mkdtemp(prefix="kete-bench-moto-")))
    service.start()
    try:
        url = moto_url(service)

        def client(name: str) -> Any:
            return boto3.client(name, region_name=REGION, endpoint_url=url, **CREDENTIALS)

        sqs, sns, kinesis, events_client = client("sqs"), client("sns"), client("kinesis"), client("events")
        # Separate queues and streams for the two sides: moto's SQS slows as a queue fills.
        sqs.create_queue(QueueName="bench-kete")
        queue = sqs.create_queue(QueueName="bench-client")["QueueUrl"]
        topic = sns.create_topic(Name="bench")["TopicArn"]
        for stream in ("bench-kete", "bench-client"):
            kinesis.create_stream(StreamName=stream, ShardCount=1)
        events_client.create_event_bus(Name="bench")
        base = {
            "region": REGION,
            "endpoint-url": url,
            "authentication-type": "access-key",
            "access-key-id": CREDENTIALS["aws_access_key_id"],
            "secret-access-key": CREDENTIALS["aws_secret_access_key"],
        }
        messages = _messages(events)
        kinds: list[tuple[str, dict[str, Any], Callable[[list[Message]], None], int]] = [
            (
                "aws-sqs",
                {"queue": "bench-kete"},
                lambda batch: sqs.send_message_batch(
                    QueueUrl=queue,
                    Entries=[
                        {"Id": str(n), "MessageBody": m.payload.decode(), "MessageAttributes": _attributes(m)}
                        for n, m in enumerate(batch)
                    ],
                ),
                10,
            ),
            (
                "aws-sns",
                {"topic": "bench", "account-id": "123456789012"},
                lambda batch: sns.publish_batch(
                    TopicArn=topic,
                    PublishBatchRequestEntries=[
                        {"Id": str(n), "Message": m.payload.decode(), "MessageAttributes": _attributes(m)}
                        for n, m in enumerate(batch)
                    ],
                ),
                10,
            ),
            (
                "aws-kinesis",
                {"stream": "bench-kete", "partition-key": "${realmLowerCase}"},
                lambda batch: kinesis.put_records(
                    StreamName="bench-client", Records=[{"Data": m.payload, "PartitionKey": "acme"} for m in batch]
                ),
                500,
            ),
            (
                "aws-eventbridge",
                {"event-bus": "bench", "source": "kete", "detail-type": "${eventTypePascalCase}"},
                lambda batch: events_client.put_events(
                    Entries=[
                        {"EventBusName": "bench", "Source": "kete", "DetailType": "Login", "Detail": m.payload.decode()}
                        for m in batch
                    ]
                ),
                10,
            ),
        ]
        found = []
        for kind, settings, send, size in kinds:
            kete = asyncio.run(_kete(kind, {**base, **settings}, messages))
            plain = _client(send, size, messages)
            found.append(Line(kind, kete, plain, f"moto server; batches of {size}; boto3 one request at a time"))
        return found
    finally:
        service.stop()
