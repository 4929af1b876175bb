"""kete: route Keycloak events to the systems that need them.

The public surface for plugin authors is what this module exports (``__all__``): the component
contracts, the event model, the hook marker, the error types, the settings field types, TLS
(settings, certificate loaders, SSL contexts) and the helpers the first-party plugins use.
Everything else in ``kete_core`` may change without notice; docs/writing-plugins.md describes each
name, and a test keeps the plugins under ``plugins/`` to this list.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kete_core.contracts import (
    ComponentConfig,
    DeliveryResults,
    Escape,
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
from kete_core.errors import (
    ConfigError,
    ConfigErrors,
    ConfigWarning,
    KeteError,
    MalformedEvent,
    PermanentError,
    PluginError,
    RenderError,
    SourceError,
    Unavailable,
)
from kete_core.event import ADMIN_EVENT, EVENT, Event, parse_event
from kete_core.fields import CommaList, Duration, Lowercase, Size
from kete_core.markers import hookimpl
from kete_core.policy import ErrorAction
from kete_core.units import parse_duration, parse_size
from kete_core.validation import is_secret

if TYPE_CHECKING:
    from kete_core.config.tree import flatten
    from kete_core.discovery import user_agent
    from kete_core.encodings import ContentEncoding, ContentTransferEncoding, EncodingSettings, PayloadEncoding
    from kete_core.lines import Chunk, LineReader, Position, end_position
    from kete_core.oauth import OAuthSettings, TokenError, TokenProvider, basic_authorization
    from kete_core.tls import (
        Base64Source,
        CertificateLoader,
        FileLoader,
        Identity,
        KeyEntry,
        LoaderSettings,
        PathSource,
        ServerTlsSettings,
        StoreContents,
        StoreSettings,
        TextSource,
        TlsMaterial,
        TlsMaterialError,
        TlsSettings,
        WrongPassword,
        checked_client_ssl,
        client_ssl_context,
        enabled_client_ssl,
        load_tls,
        server_ssl_context,
    )
    from kete_core.urls import url_template, url_value
    from kete_core.web import (
        ConnectionLost,
        HandshakeClient,
        HandshakeRefused,
        HandshakeSettings,
        connection_outcome,
        handshake_refusal,
        is_http_token,
    )

# Names loaded on first use: ``kete --help`` and ``kete plugins`` import this package and need none
# of them, and their modules (a settings model, the configuration loader) take milliseconds.
_LAZY = {
    "flatten": "kete_core.config.tree",
    "user_agent": "kete_core.discovery",
    **dict.fromkeys(
        ("ContentEncoding", "ContentTransferEncoding", "EncodingSettings", "PayloadEncoding"), "kete_core.encodings"
    ),
    **dict.fromkeys(("Chunk", "LineReader", "Position", "end_position"), "kete_core.lines"),
    **dict.fromkeys(("OAuthSettings", "TokenError", "TokenProvider", "basic_authorization"), "kete_core.oauth"),
    **dict.fromkeys(("url_template", "url_value"), "kete_core.urls"),
    **dict.fromkeys(
        (
            "ConnectionLost",
            "HandshakeClient",
            "HandshakeRefused",
            "HandshakeSettings",
            "connection_outcome",
            "handshake_refusal",
            "is_http_token",
        ),
        "kete_core.web",
    ),
    # TLS: settings models, and cryptography once a store is read.
    **dict.fromkeys(
        (
            "Base64Source",
            "CertificateLoader",
            "FileLoader",
            "Identity",
            "KeyEntry",
            "LoaderSettings",
            "PathSource",
            "ServerTlsSettings",
            "StoreContents",
            "StoreSettings",
            "TextSource",
            "TlsMaterial",
            "TlsMaterialError",
            "TlsSettings",
            "WrongPassword",
            "checked_client_ssl",
            "client_ssl_context",
            "enabled_client_ssl",
            "load_tls",
            "server_ssl_context",
        ),
        "kete_core.tls",
    ),
}


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
    "Base64Source",
    "CertificateLoader",
    "Chunk",
    "CommaList",
    "ComponentConfig",
    "ConfigError",
    "ConfigErrors",
    "ConfigWarning",
    "ConnectionLost",
    "ContentEncoding",
    "ContentTransferEncoding",
    "DeliveryResults",
    "Duration",
    "EncodingSettings",
    "ErrorAction",
    "Escape",
    "Event",
    "FileLoader",
    "HandshakeClient",
    "HandshakeRefused",
    "HandshakeSettings",
    "Identity",
    "Intake",
    "KeteError",
    "KeyEntry",
    "LineReader",
    "LoaderSettings",
    "Lowercase",
    "MalformedEvent",
    "Matcher",
    "Message",
    "OAuthSettings",
    "PathSource",
    "PayloadEncoding",
    "PermanentError",
    "PluginError",
    "Position",
    "Receipt",
    "Rejection",
    "RenderError",
    "Renderer",
    "Serializer",
    "ServerTlsSettings",
    "Sink",
    "SinkContext",
    "Size",
    "Source",
    "SourceError",
    "StoreContents",
    "StoreSettings",
    "Template",
    "TextSource",
    "TlsMaterial",
    "TlsMaterialError",
    "TlsSettings",
    "TokenError",
    "TokenProvider",
    "Unavailable",
    "WrongPassword",
    "basic_authorization",
    "checked_client_ssl",
    "client_ssl_context",
    "connection_outcome",
    "enabled_client_ssl",
    "end_position",
    "flatten",
    "handshake_refusal",
    "hookimpl",
    "is_http_token",
    "is_secret",
    "load_tls",
    "parse_duration",
    "parse_event",
    "parse_size",
    "redact",
    "server_ssl_context",
    "url_template",
    "url_value",
    "user_agent",
]
