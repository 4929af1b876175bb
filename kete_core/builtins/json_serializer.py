"""``serializer.kind = "json"``: the KETE JSON shape, one compact object per event."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import orjson

from kete_core.contracts import Serializer
from kete_core.event import Event


class JsonSerializer(Serializer):
    """Writes :meth:`Event.to_kete`: KETE's keys in KETE's order, ``null`` for absent ones."""

    content_type: ClassVar[str] = "application/json"
    binary: ClassVar[bool] = False

    def serialize(self, event: Event) -> bytes:
        return orjson.dumps(event.to_kete())

    def serialize_batch(self, events: Sequence[Event]) -> list[bytes]:
        return list(map(orjson.dumps, map(Event.to_kete, events)))
