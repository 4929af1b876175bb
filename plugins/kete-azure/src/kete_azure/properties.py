"""The application properties the Event Hubs and Service Bus sinks send with each message: the custom
``headers.*`` as KETE sends them, then KETE's own three, which win over a custom header of the same name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kete_core import Message

MESSAGE_HEADERS = ("eventkind", "eventtype", "contenttype")
"""KETE's message headers, sent as application properties with every event (they win over ``headers``)."""


def custom_properties(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers.*`` as KETE sends them: names and values trimmed, blank values and KETE's own names left out."""
    pairs = ((name.strip(), value.strip()) for name, value in headers.items())
    return {name: value for name, value in pairs if value and name not in MESSAGE_HEADERS}


def message_properties(custom: Mapping[str, str], message: Message) -> dict[str | bytes, Any]:
    """*custom* (from :func:`custom_properties`) with KETE's three for *message*."""
    event = message.event
    return {**custom, "eventkind": event.kind, "eventtype": event.event_type, "contenttype": message.content_type}
