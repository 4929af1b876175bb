"""``destination.kind = "stdout"``: one payload per line on standard output, for trying things."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from kete_core.contracts import DeliveryResults, Message, Sink


class StdoutSink(Sink):
    """Writes each message's payload and a newline to standard output, flushed per batch."""

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        out = sys.stdout.buffer
        out.write(b"".join(message.payload + b"\n" for message in messages))
        out.flush()
        return None
