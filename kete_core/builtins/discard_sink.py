"""``destination.kind = "discard"``: accepts and drops every message.

For measuring kete itself (the benchmarks use it) and for dry runs of routing: with ``key`` set,
the template is rendered for every message, as a real sink would render its topic or URL.
"""

from __future__ import annotations

from collections.abc import Sequence

from kete_core.contracts import ComponentConfig, DeliveryResults, Message, Sink, SinkContext
from kete_core.errors import RenderError


class DiscardSinkConfig(ComponentConfig):
    """Settings of the ``discard`` sink."""

    key: str | None = None
    """A template rendered for each message and then dropped."""


class DiscardSink(Sink):
    """Counts messages, keeps nothing."""

    Config = DiscardSinkConfig
    config: DiscardSinkConfig

    def __init__(self, config: DiscardSinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        self.key = context.address("key", config.key) if config.key is not None else None
        self.messages = 0

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        self.messages += len(messages)
        if self.key is not None:
            keys = self.key.render_all([message.event for message in messages])
            if any(isinstance(key, RenderError) for key in keys):
                return [key if isinstance(key, RenderError) else None for key in keys]
        return None
