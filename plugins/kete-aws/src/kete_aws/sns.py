"""``destination.kind = "aws-sns"``: ``PublishBatch`` to a templated topic; see the README.

The topic ARN is KETE's: ``arn:aws:sns:<region>:<account-id>:<topic>``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from kete_aws.attributes import Attributes
from kete_aws.batching import AwsSink, Entry, Outcome, failed_outcomes, name_value
from kete_aws.settings import SnsSettings
from kete_core import Message, PermanentError, RenderError, SinkContext

_TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,251}(\.fifo)?$|^[A-Za-z0-9_-]{1,256}$")
# A subject: printable ASCII, not starting with a space, under 100 characters.
_SUBJECT = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,98}$")


class SnsSink(AwsSink):
    """Publishes each message to its topic; see the module documentation."""

    Config = SnsSettings
    config: SnsSettings
    kind = "aws-sns"
    service = "sns"
    batch_count = 10
    batch_bytes = 256 * 1024

    def __init__(self, config: SnsSettings, context: SinkContext) -> None:
        super().__init__(config, context)
        self.topic = context.address("topic", config.topic.strip(), name_value)
        self.subject = self.template("subject", config.subject)
        self.attributes = Attributes(config, context)
        self.arn_prefix = f"arn:aws:sns:{self.region}:{config.resolved_account()}:"

    def problems(self) -> list[tuple[str, str]]:
        found = super().problems()
        if not self.config.topic.strip():
            found.append(("topic", "is required for aws-sns destinations"))
        return found + self.config.fifo_problems("topic", self.config.topic)

    def ordered(self, target: str) -> bool:
        return target.endswith(".fifo")

    def entries(self, messages: Sequence[Message]) -> list[Entry | BaseException]:
        events = [message.event for message in messages]
        subjects = self.subject.render_all(events) if self.subject is not None else [None] * len(events)
        prepared: list[Entry | BaseException] = []
        for index, (message, topic, subject) in enumerate(
            zip(messages, self.topic.render_all(events), subjects, strict=True)
        ):
            if isinstance(topic, RenderError) or isinstance(subject, RenderError):
                prepared.append(topic if isinstance(topic, RenderError) else subject)  # type: ignore[arg-type]
                continue
            if not _TOPIC.match(topic):
                prepared.append(PermanentError(f"{topic!r} is not an SNS topic name"))
                continue
            if subject is not None and not _SUBJECT.match(subject):
                prepared.append(PermanentError(f"{subject!r} is not an SNS subject (printable ASCII, under 100)"))
                continue
            fields = self.attributes.fields(message, "Message")
            if isinstance(fields, BaseException):
                prepared.append(fields)
                continue
            request, size = fields
            if subject is not None:
                request["Subject"] = subject
            prepared.append(Entry(index, self.arn_prefix + topic, request, size))
        return prepared

    async def put(self, client: Any, target: str, batch: list[Entry]) -> list[Outcome]:
        answer = await client.publish_batch(
            TopicArn=target,
            PublishBatchRequestEntries=[{"Id": str(n), **entry.request} for n, entry in enumerate(batch)],
        )
        return failed_outcomes(f"aws-sns {target}", len(batch), answer.get("Failed", []))

    async def probe(self, client: Any) -> None:
        await client.list_topics()
