"""kete: route Keycloak events to the systems that need them.

The public surface for plugin authors is what this module exports (``__all__``): the component
contracts, the event model, the hook marker, the error types, the settings field types and the
helpers the first-party plugins use. Everything else in ``kete_core`` may change without notice;
docs/writing-plugins.md describes each name, and a test keeps the plugins under ``plugins/`` to
this list.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kete_core.contracts import (
    ComponentConfig,
    DeliveryResults,
    Intake,
    Matcher,
    Message,
    Receipt,
    Rejection,
    Renderer,
    Serializer,
    Sink,
    SinkContext,
    Source,
    Template,
)
from kete_core.display import redact
from kete_core.encodings import ContentEncoding, ContentTransferEncoding, EncodingSettings, PayloadEncoding
from kete_core.errors import (
    ConfigError,
    ConfigErrors,
    ConfigWarning,
    KeteError,
    MalformedEvent,
    PermanentError,
    PluginError,
    SourceError,
    Unavailable,
)
from kete_core.event import ADMIN_EVENT, EVENT, Event, parse_event
from kete_core.fields import CommaList, Duration, Lowercase, Size
from kete_core.lines import Chunk, LineReader, Position, end_position
from kete_core.markers import hookimpl
from kete_core.policy import ErrorAction
from kete_core.units import parse_duration, parse_size
from kete_core.validation import is_secret

if TYPE_CHECKING:
    from kete_core.config.tree import flatten

# Names whose modules cost more to import than ``import kete_core`` should: loaded on first use.
_LAZY = {"flatten": "kete_core.config.tree"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kete_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "ADMIN_EVENT",
    "EVENT",
    "Chunk",
    "CommaList",
    "ComponentConfig",
    "ConfigError",
    "ConfigErrors",
    "ConfigWarning",
    "ContentEncoding",
    "ContentTransferEncoding",
    "DeliveryResults",
    "Duration",
    "EncodingSettings",
    "ErrorAction",
    "Event",
    "Intake",
    "KeteError",
    "LineReader",
    "Lowercase",
    "MalformedEvent",
    "Matcher",
    "Message",
    "PayloadEncoding",
    "PermanentError",
    "PluginError",
    "Position",
    "Receipt",
    "Rejection",
    "Renderer",
    "Serializer",
    "Sink",
    "SinkContext",
    "Size",
    "Source",
    "SourceError",
    "Template",
    "Unavailable",
    "end_position",
    "flatten",
    "hookimpl",
    "is_secret",
    "parse_duration",
    "parse_event",
    "parse_size",
    "redact",
]
