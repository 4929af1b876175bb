"""kete: route Keycloak events to the systems that need them.

The public surface for plugin authors is what this module exports: the component contracts, the
event model, the hook marker, the error types, and TLS (settings, certificate loaders, SSL contexts).
"""

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
from kete_core.errors import ConfigError, KeteError, MalformedEvent, PermanentError, PluginError, SourceError
from kete_core.event import ADMIN_EVENT, EVENT, Event, parse_event
from kete_core.markers import hookimpl
from kete_core.policy import Duration, ErrorAction

if TYPE_CHECKING:
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
        client_ssl_context,
        load_tls,
        server_ssl_context,
    )

# TLS (kete_core.tls) is imported on first use: most runs, and `kete --help`, never need it.
_TLS_NAMES = frozenset({
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
    "client_ssl_context",
    "load_tls",
    "server_ssl_context",
})  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _TLS_NAMES:
        from kete_core import tls

        value = getattr(tls, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kete_core' has no attribute {name!r}")


__all__ = [
    "ADMIN_EVENT",
    "EVENT",
    "Base64Source",
    "CertificateLoader",
    "ComponentConfig",
    "ConfigError",
    "DeliveryResults",
    "Duration",
    "ErrorAction",
    "Event",
    "FileLoader",
    "Identity",
    "Intake",
    "KeteError",
    "KeyEntry",
    "LoaderSettings",
    "MalformedEvent",
    "Matcher",
    "Message",
    "PathSource",
    "PermanentError",
    "PluginError",
    "Receipt",
    "Rejection",
    "Renderer",
    "Serializer",
    "ServerTlsSettings",
    "Sink",
    "SinkContext",
    "Source",
    "SourceError",
    "StoreContents",
    "StoreSettings",
    "Template",
    "TextSource",
    "TlsMaterial",
    "TlsMaterialError",
    "TlsSettings",
    "WrongPassword",
    "client_ssl_context",
    "hookimpl",
    "load_tls",
    "parse_event",
    "server_ssl_context",
]
