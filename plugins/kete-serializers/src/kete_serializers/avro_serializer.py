"""``avro``: raw Avro binary (no container, no schema header) with the original's newest schemas.

The schemas ship with this package (``schemas/avro/event.avsc`` and ``admin_event.avsc``, copies of the
original's); a consumer decodes a payload with the schema of its event kind. Every field is a union
with ``null``; details are an Avro map in the event's order (the original copied them into a Java
``HashMap`` first, so its entries came in hash order: same map, other byte order).
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from functools import cache
from importlib.resources import files
from typing import Any, ClassVar

from fastavro import parse_schema, schemaless_writer

from kete_core import EVENT, Event, Serializer
from kete_serializers.records import original_record


@cache
def schema(kind: str) -> Any:
    """The parsed Avro schema of events of *kind* (``EVENT`` or ``ADMIN_EVENT``)."""
    name = "event.avsc" if kind == EVENT else "admin_event.avsc"
    return parse_schema(json.loads(files("kete_serializers").joinpath("schemas", "avro", name).read_text()))


class AvroSerializer(Serializer):
    """Writes the event as the original's ``AvroSerializer``: one schemaless Avro record."""

    content_type: ClassVar[str] = "application/avro"
    binary: ClassVar[bool] = True

    def serialize(self, event: Event) -> bytes:
        buffer = io.BytesIO()
        schemaless_writer(buffer, schema(event.kind), original_record(event))
        return buffer.getvalue()

    def serialize_batch(self, events: Sequence[Event]) -> list[bytes]:
        # One buffer for the batch, cut at each record's end: a BytesIO per event costs more than the record.
        buffer = io.BytesIO()
        ends = []
        for event in events:
            schemaless_writer(buffer, schema(event.kind), original_record(event))
            ends.append(buffer.tell())
        data = buffer.getbuffer()
        payloads = [bytes(data[start:end]) for start, end in zip([0, *ends], ends, strict=False)]
        data.release()
        return payloads
