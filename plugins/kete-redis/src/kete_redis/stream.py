"""``destination.kind = "redis-stream"`` (or ``redis-streams``): ``XADD`` each event to its stream,
with KETE's entry fields; see the README."""

from __future__ import annotations

import logging
from typing import Any

from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline

from kete_core import Event, Message, SinkContext, Template
from kete_redis.settings import RedisStreamSinkConfig
from kete_redis.sink import RedisSink

log = logging.getLogger("kete.redis")

RESERVED_FIELDS = ("eventkind", "eventtype", "contenttype", "body")


class RedisStreamSink(RedisSink):
    """Adds one entry per event: the custom fields, then ``eventkind``, ``eventtype``,
    ``contenttype`` and ``body`` (the payload), in KETE's order. A message counts as delivered once
    the server answered its ``XADD`` with the entry's id."""

    Config = RedisStreamSinkConfig
    config: RedisStreamSinkConfig
    address_setting = "stream"

    def __init__(self, config: RedisStreamSinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        self.custom_fields: list[tuple[str, Template]] = []
        for name, text in config.headers.items():
            if name.lower() in RESERVED_FIELDS:
                log.warning("%s.headers.%s: kete sets this field itself; the setting is ignored", context.path, name)
            elif text.strip():
                self.custom_fields.append((name, context.template(f"headers.{name}", text)))
        self.trim: dict[str, Any] = (
            {"maxlen": config.max_len, "approximate": config.approximate_trimming} if config.max_len else {}
        )

    def _custom(self, event: Event) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for name, template in self.custom_fields:
            value = template.render(event)
            # A field whose template has no value for this event is left out, as a blank one.
            if isinstance(value, str) and value.strip():
                fields[name] = value
        return fields

    def queue(self, pipeline: Pipeline | ClusterPipeline, address: str, message: Message) -> None:
        event = message.event
        fields: dict[Any, Any] = self._custom(event) if self.custom_fields else {}
        fields["eventkind"] = event.kind
        fields["eventtype"] = event.event_type
        fields["contenttype"] = message.content_type
        fields["body"] = message.payload
        pipeline.xadd(address, fields, **self.trim)
