"""kete: route Keycloak events to the systems that need them.

The public surface for plugin authors is what this module exports: the component contracts, the
event model, the hook marker and the error types.
"""

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
from kete_core.errors import ConfigError, KeteError, MalformedEvent, PermanentError, PluginError, SourceError
from kete_core.event import ADMIN_EVENT, EVENT, Event, parse_event
from kete_core.markers import hookimpl
from kete_core.policy import Duration, ErrorAction

__all__ = [
    "ADMIN_EVENT",
    "EVENT",
    "ComponentConfig",
    "ConfigError",
    "DeliveryResults",
    "Duration",
    "ErrorAction",
    "Event",
    "Intake",
    "KeteError",
    "MalformedEvent",
    "Matcher",
    "Message",
    "PermanentError",
    "PluginError",
    "Receipt",
    "Rejection",
    "Renderer",
    "Serializer",
    "Sink",
    "SinkContext",
    "Source",
    "SourceError",
    "Template",
    "hookimpl",
    "parse_event",
]
