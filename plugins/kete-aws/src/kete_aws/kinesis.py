"""``destination.kind = "aws-kinesis"``: ``PutRecords`` to a templated stream with a templated
partition key; see the README.

The record's data is the serialized payload as it is: KETE's Kinesis destination applies no content
or transfer encoding (it accepts the settings and ignores them), and neither does this sink. The
batches of one stream go out one after the other, so that records of one partition key keep their
order.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from kete_aws.batching import AwsSink, Entry, Outcome, coded_outcomes, name_value
from kete_aws.settings import KinesisSettings
from kete_core import Message, PermanentError, RenderError, SinkContext

log = logging.getLogger("kete.aws")

_STREAM = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


class KinesisSink(AwsSink):
    """Puts each message as a record on its stream; see the module documentation."""

    Config = KinesisSettings
    config: KinesisSettings
    kind = "aws-kinesis"
    service = "kinesis"
    batch_count = 500
    batch_bytes = 5 * 1024 * 1024

    def __init__(self, config: KinesisSettings, context: SinkContext) -> None:
        super().__init__(config, context)
        self.stream = context.address("stream", config.stream.strip(), name_value)
        self.partition_key = context.template("partition-key", config.partition_key.strip())
        if not config.encoding.identity:
            log.warning(
                "%s: aws-kinesis sends payloads as serialized; content encodings are ignored, as KETE", context.path
            )

    def problems(self) -> list[tuple[str, str]]:
        found = super().problems()
        for setting, value in (("stream", self.config.stream), ("partition-key", self.config.partition_key)):
            if not value.strip():
                found.append((setting, "is required for aws-kinesis destinations"))
        return found

    def ordered(self, target: str) -> bool:
        return True

    def entries(self, messages: Sequence[Message]) -> list[Entry | BaseException]:
        events = [message.event for message in messages]
        prepared: list[Entry | BaseException] = []
        for index, (message, stream, key) in enumerate(
            zip(messages, self.stream.render_all(events), self.partition_key.render_all(events), strict=True)
        ):
            if isinstance(stream, RenderError) or isinstance(key, RenderError):
                prepared.append(stream if isinstance(stream, RenderError) else key)  # type: ignore[arg-type]
            elif not _STREAM.match(stream):
                prepared.append(PermanentError(f"{stream!r} is not a Kinesis stream name"))
            elif not 1 <= len(key) <= 256:
                prepared.append(PermanentError(f"partition key {key[:40]!r}... is not 1 to 256 characters"))
            else:
                request = {"Data": message.payload, "PartitionKey": key}
                prepared.append(Entry(index, stream, request, len(message.payload) + len(key.encode())))
        return prepared

    async def put(self, client: Any, target: str, batch: list[Entry]) -> list[Outcome]:
        answer = await client.put_records(StreamName=target, Records=[entry.request for entry in batch])
        return coded_outcomes(f"aws-kinesis {target}", answer["Records"])

    async def probe(self, client: Any) -> None:
        await client.list_streams(Limit=1)
