"""``destination.kind = "aws-eventbridge"``: ``PutEvents`` to a templated event bus, with templated
``source`` and ``detail-type`` and the payload as ``detail``; see the README.

Unlike KETE, which ignored ``FailedEntryCount``, each entry's answer is read: an entry EventBridge
refused fails its event (throttled or internal failures are sent again).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from kete_aws.batching import AwsSink, Entry, Outcome, coded_outcomes, name_value, text_payload
from kete_aws.settings import EventBridgeSettings
from kete_core import Message, PermanentError, RenderError, SinkContext, Template

# ``source`` and ``detail-type``: no control characters, at most 256 and 128 characters.
_SOURCE = re.compile(r"^[^\x00-\x1f\x7f]{1,256}$")
_DETAIL_TYPE = re.compile(r"^[^\x00-\x1f\x7f]{1,128}$")


class EventBridgeSink(AwsSink):
    """Puts each message as an event on its bus; see the module documentation."""

    Config = EventBridgeSettings
    config: EventBridgeSettings
    kind = "aws-eventbridge"
    service = "events"
    batch_count = 10
    batch_bytes = 256 * 1024

    def __init__(self, config: EventBridgeSettings, context: SinkContext) -> None:
        super().__init__(config, context)
        self.bus = context.address("event-bus", config.event_bus.strip(), name_value)
        self.source: Template = context.template("source", config.source.strip())
        self.detail_type: Template = context.template("detail-type", config.detail_type.strip())

    def problems(self) -> list[tuple[str, str]]:
        found = super().problems()
        for setting in ("event-bus", "source", "detail-type"):
            if not getattr(self.config, setting.replace("-", "_")).strip():
                found.append((setting, "is required for aws-eventbridge destinations"))
        return found

    def entries(self, messages: Sequence[Message]) -> list[Entry | BaseException]:
        events = [message.event for message in messages]
        encoding = self.config.encoding
        prepared: list[Entry | BaseException] = []
        for index, (message, bus, source, detail_type) in enumerate(
            zip(
                messages,
                self.bus.render_all(events),
                self.source.render_all(events),
                self.detail_type.render_all(events),
                strict=True,
            )
        ):
            failed = next((value for value in (bus, source, detail_type) if isinstance(value, RenderError)), None)
            if failed is not None:
                prepared.append(failed)
                continue
            if not _SOURCE.match(source) or not _DETAIL_TYPE.match(detail_type):
                prepared.append(
                    PermanentError(f"source {source!r} or detail-type {detail_type!r} is refused by EventBridge")
                )
                continue
            detail = text_payload(encoding.encode(message.payload))
            if isinstance(detail, PermanentError):
                prepared.append(detail)
                continue
            request = {"EventBusName": bus, "Source": source, "DetailType": detail_type, "Detail": detail}
            size = sum(len(str(value).encode()) for value in request.values())
            prepared.append(Entry(index, str(bus), request, size))
        return prepared

    async def put(self, client: Any, target: str, batch: list[Entry]) -> list[Outcome]:
        answer = await client.put_events(Entries=[entry.request for entry in batch])
        return coded_outcomes(f"aws-eventbridge {target}", answer["Entries"])

    async def probe(self, client: Any) -> None:
        bus = self.config.event_bus.strip()
        if self.endpoint_url or "${" in bus:
            await client.list_event_buses(Limit=1)
        else:
            await client.describe_event_bus(Name=bus)
