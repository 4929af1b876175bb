"""``destination.kind = "aws-sqs"``: ``SendMessageBatch`` to a templated queue; see the README.

The queue URL is KETE's: ``<endpoint-url>/<account-id>/<queue>``, or
``https://sqs.<region>.amazonaws.com[.cn]/<account-id>/<queue>`` on AWS itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from kete_aws.attributes import Attributes
from kete_aws.batching import AwsSink, Entry, Outcome, failed_outcomes, name_value
from kete_aws.settings import SqsSettings
from kete_core import Message, PermanentError, RenderError, SinkContext

_QUEUE = re.compile(r"^[A-Za-z0-9_-]{1,75}(\.fifo)?$|^[A-Za-z0-9_-]{1,80}$")


class SqsSink(AwsSink):
    """Sends each message to its queue; see the module documentation."""

    Config = SqsSettings
    config: SqsSettings
    kind = "aws-sqs"
    service = "sqs"
    batch_count = 10
    batch_bytes = 1024 * 1024  # SQS's limit since 2025 (it was 256 KiB)

    def __init__(self, config: SqsSettings, context: SinkContext) -> None:
        super().__init__(config, context)
        self.queue = context.address("queue", config.queue.strip(), name_value)
        self.attributes = Attributes(config, context)
        if self.endpoint_url:
            base = self.endpoint_url.rstrip("/")
        else:
            base = f"https://sqs.{self.region}.amazonaws.com" + (".cn" if self.region.startswith("cn-") else "")
        self.url_base = f"{base}/{config.resolved_account()}/"

    def problems(self) -> list[tuple[str, str]]:
        found = super().problems()
        if not self.config.queue.strip():
            found.append(("queue", "is required for aws-sqs destinations"))
        return found + self.config.fifo_problems("queue", self.config.queue)

    def ordered(self, target: str) -> bool:
        return target.endswith(".fifo")

    def entries(self, messages: Sequence[Message]) -> list[Entry | BaseException]:
        prepared: list[Entry | BaseException] = []
        for index, (message, queue) in enumerate(
            zip(messages, self.queue.render_all([message.event for message in messages]), strict=True)
        ):
            if isinstance(queue, RenderError):
                prepared.append(queue)
                continue
            if not _QUEUE.match(queue):
                prepared.append(PermanentError(f"{queue!r} is not an SQS queue name"))
                continue
            fields = self.attributes.fields(message, "MessageBody")
            if isinstance(fields, BaseException):
                prepared.append(fields)
                continue
            request, size = fields
            prepared.append(Entry(index, self.url_base + queue, request, size))
        return prepared

    async def put(self, client: Any, target: str, batch: list[Entry]) -> list[Outcome]:
        answer = await client.send_message_batch(
            QueueUrl=target, Entries=[{"Id": str(n), **entry.request} for n, entry in enumerate(batch)]
        )
        return failed_outcomes(f"aws-sqs {target}", len(batch), answer.get("Failed", []))

    async def probe(self, client: Any) -> None:
        await client.list_queues(MaxResults=1)
