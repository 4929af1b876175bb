"""TLS for every sink and source: the ``tls.*`` settings, the certificate loaders, and SSL contexts.

A component declares a :class:`TlsSettings` (client) or :class:`ServerTlsSettings` (server) field named
``tls``, calls :func:`load_tls` when it is built (so ``kete check`` reports bad material), and hands the
result to its library: :func:`client_ssl_context` / :func:`server_ssl_context`, or the PEM text of
:class:`TlsMaterial`. Certificate loaders are plugins (:class:`CertificateLoader`, entry-point group
``kete.certificate_loaders``); the original KETE's 11 kinds are built in.
"""

from kete_core.tls.loader import (
    Base64Source,
    CertificateLoader,
    FileLoader,
    KeyEntry,
    PathSource,
    StoreContents,
    TextSource,
    TlsMaterialError,
    WrongPassword,
)
from kete_core.tls.material import (
    FALLBACK_PASSWORDS,
    Identity,
    TlsMaterial,
    checked_client_ssl,
    client_ssl_context,
    enabled_client_ssl,
    load_tls,
    server_ssl_context,
)
from kete_core.tls.settings import LoaderSettings, ServerTlsSettings, StoreSettings, TlsSettings

__all__ = [
    "FALLBACK_PASSWORDS",
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
]
