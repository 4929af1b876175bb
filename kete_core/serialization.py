"""Serializing: a route's serializer turns events into the messages its sink sends.

A batch is serialized at once (:meth:`~kete_core.contracts.Serializer.serialize_batch`); when that
fails, event by event, so one event the serializer cannot write fails alone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from itertools import repeat

from kete_core.contracts import Message
from kete_core.event import Event
from kete_core.hooks import Hooks
from kete_core.routing import Route

log = logging.getLogger("kete")


def serialize(route: Route, events: Sequence[Event], hooks: Hooks) -> tuple[list[Message | None], bool]:
    """*route*'s serializer's message for each of *events*, None where it failed (logged, and
    reported to ``kete_serialize_failed``), and whether none failed."""
    serializer = route.serializer
    content_type = serializer.content_type
    try:
        payloads = serializer.serialize_batch(events)
        if len(payloads) == len(events):
            return list(map(Message, events, payloads, repeat(content_type))), True
        log.error(
            "serializer '%s' returned %d payloads for %d events", route.serializer_kind, len(payloads), len(events)
        )
    except Exception:
        pass  # one event spoils the batch: find which, one at a time
    serialize_one = serializer.serialize
    messages: list[Message | None] = []
    for event in events:
        try:
            messages.append(Message(event, serialize_one(event), content_type))
        except Exception as exc:
            messages.append(None)
            log.error("serializer '%s' cannot write %r: %s", route.serializer_kind, event, exc)
            hooks.serialize_failed(route.serializer_kind, event, exc)
    return messages, None not in messages
