"""The AWS sinks' tests run against one moto server (tests/services/moto_fixtures.py) and read back
with boto3: SQS by receiving, SNS through SQS subscriptions, Kinesis by reading its shards,
EventBridge through a rule whose target is an SQS queue."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from tests.services.moto_fixtures import ACCOUNT, REGION, moto_url

REALMS = ("acme", "other-realm", "acme-id")
"""The realm part of the names the sample events render (a realm known only by id gives ``acme-id``)."""


@dataclass
class Received:
    """One message read back: its body and the attributes it carried."""

    body: bytes
    attributes: dict[str, str]
    where: str
    extra: dict[str, Any] = field(default_factory=dict)


class AwsWorld:
    """Resources of one test on the moto server, named ``<prefix>-<realm>``, and their read-back."""

    def __init__(self, client: Callable[[str], Any], url: str) -> None:
        self.client = client
        self.url = url
        self.prefix = f"k{uuid.uuid4().hex[:8]}"
        self.sqs = client("sqs")
        self._received: dict[str, list[Received]] = {}

    def settings(self, **more: Any) -> dict[str, Any]:
        """Connection settings for the moto server (moto routes only signed requests)."""
        return {
            "region": REGION,
            "endpoint-url": self.url,
            "authentication-type": "access-key",
            "access-key-id": "AKIDKETETEST",
            "secret-access-key": "kete-test-secret",
            "retry-initial-backoff": "10ms",
            **more,
        }

    def name(self, realm: str, suffix: str = "") -> str:
        return f"{self.prefix}-{realm}{suffix}"

    def queue(self, name: str, **attributes: str) -> str:
        url = self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        self._received.setdefault(url, [])
        return url

    def queue_arn(self, url: str) -> str:
        return self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def receive(self, urls: list[str] | None = None) -> list[Received]:
        """Everything the queues received so far (kept across calls), merged by send time."""
        for url in urls or list(self._received):
            got = self._received.setdefault(url, [])
            while True:
                answer = self.sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=10,
                    MessageAttributeNames=["All"],
                    AttributeNames=["All"],
                    VisibilityTimeout=600,
                )
                messages = answer.get("Messages", [])
                if not messages:
                    break
                self.sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)],
                )  # a FIFO queue gives no more of a group while one of its messages is in flight
                for message in messages:
                    attributes = {
                        name: value["StringValue"] for name, value in message.get("MessageAttributes", {}).items()
                    }
                    got.append(Received(message["Body"].encode(), attributes, url, message["Attributes"]))
        merged = [
            (int(r.extra["SentTimestamp"]), n, r) for url in self._received for n, r in enumerate(self._received[url])
        ]
        return [received for *_, received in sorted(merged, key=lambda item: (item[0], item[1]))]

    # ------------------------------------------------------------------ per kind

    def sqs_targets(self, realms: tuple[str, ...] = REALMS, suffix: str = "", **attributes: str) -> None:
        for realm in realms:
            self.queue(self.name(realm, suffix), **attributes)

    def sns_targets(
        self, realms: tuple[str, ...] = REALMS, suffix: str = "", *, raw: bool = True, **attributes: str
    ) -> None:
        """A topic per realm, each with an SQS subscription (raw: the body is the message itself)."""
        sns = self.client("sns")
        for realm in realms:
            topic = sns.create_topic(Name=self.name(realm, suffix), Attributes=attributes)["TopicArn"]
            queue_attributes = {"FifoQueue": "true"} if suffix == ".fifo" else {}
            url = self.queue(self.name(realm, "-sub" + suffix), **queue_attributes)
            sns.subscribe(
                TopicArn=topic,
                Protocol="sqs",
                Endpoint=self.queue_arn(url),
                Attributes={"RawMessageDelivery": "true" if raw else "false"},
            )

    def kinesis_targets(self, realms: tuple[str, ...] = REALMS) -> None:
        kinesis = self.client("kinesis")
        for realm in realms:
            kinesis.create_stream(StreamName=self.name(realm), ShardCount=1)

    def kinesis_records(self, realms: tuple[str, ...] = REALMS) -> list[Received]:
        kinesis = self.client("kinesis")
        found = []
        for realm in realms:
            stream = self.name(realm)
            shard = kinesis.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
            iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
            records = kinesis.get_records(ShardIterator=iterator["ShardIterator"], Limit=10000)["Records"]
            for record in records:
                extra = {"key": record["PartitionKey"], "at": record["ApproximateArrivalTimestamp"]}
                found.append(Received(record["Data"], {}, stream, extra))
        return sorted(found, key=lambda received: received.extra["at"])

    def eventbridge_targets(self, realms: tuple[str, ...] = REALMS) -> None:
        events = self.client("events")
        for realm in realms:
            bus = self.name(realm)
            events.create_event_bus(Name=bus)
            events.put_rule(Name="all", EventBusName=bus, EventPattern=orjson.dumps({"account": [ACCOUNT]}).decode())
            url = self.queue(self.name(realm, "-sub"))
            events.put_targets(Rule="all", EventBusName=bus, Targets=[{"Id": "q", "Arn": self.queue_arn(url)}])

    def eventbridge_events(self) -> list[tuple[dict[str, Any], bytes]]:
        """Each event the buses' rules delivered: the envelope and its ``detail`` re-serialized."""
        return [
            (envelope, orjson.dumps(envelope["detail"])) for envelope in (orjson.loads(r.body) for r in self.receive())
        ]


@pytest.fixture
def aws(moto_server, aws_client) -> AwsWorld:
    """A fresh prefix of names on the session's moto server."""
    return AwsWorld(aws_client, moto_url(moto_server))
