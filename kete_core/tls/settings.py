"""The ``tls.*`` settings of a client (sinks, sources that connect out) and of a server (sources that listen).

The keys are the original KETE's (``tls.enabled``, ``tls.version``, ``tls.verify-hostname``,
``tls.trust-store.*``, ``tls.key-store.*`` with ``loader.kind``, ``password``, ``key-password``, ``type``
and the JVM's algorithm names) plus kete's shorter PEM file settings (``tls.ca-file``, ``tls.cert-file``,
``tls.key-file``). Nothing here reads a file: :func:`kete_core.tls.load_tls` does, when a component is built.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, SecretStr

from kete_core.contracts import ComponentConfig
from kete_core.fields import Lowercase

TlsVersion = Annotated[Literal["tls", "ssl", "tlsv1.2", "tlsv1.3"], Lowercase]
"""KETE's ``tls.version``, the protocol of Java's ``SSLContext``: the highest version offered. ``TLS`` (and
Java's alias ``SSL``) and ``TLSv1.3`` offer TLS 1.2 and 1.3, ``TLSv1.2`` only TLS 1.2. Older versions are
refused, as current JDKs disable them."""

StoreType = Annotated[Literal["jks", "pkcs12", "jceks", "pem"], Lowercase]
"""KETE's ``type``, the Java ``KeyStore`` type. Accepted so KETE configurations load; kete reads the store's
format from its content (as Java's dual-format JKS/PKCS12 key stores do)."""

ManagerAlgorithm = Annotated[Literal["pkix", "sunpkix", "x509", "x.509", "sunx509", "newsunx509"], Lowercase]
"""The JVM's ``trust-manager-algorithm``/``key-manager-algorithm`` names. Accepted so KETE configurations
load; OpenSSL always validates certificate paths as PKIX does."""


class LoaderSettings(ComponentConfig):
    """``loader.*``: where a store's certificates and keys come from.

    ``kind`` names a certificate loader (entry-point group ``kete.certificate_loaders``); the other
    settings are that loader's own and are checked by its ``Config`` model. The built-in kinds use
    exactly one of ``path``, ``text`` or ``base64``.
    """

    model_config = ConfigDict(extra="allow")

    kind: Annotated[str, Lowercase]
    path: str | None = None
    text: SecretStr | None = None
    base64: SecretStr | None = None

    def loader_settings(self) -> dict[str, Any]:
        """The settings handed to the loader's ``Config``: everything but ``kind``, secrets revealed."""
        raw: dict[str, Any] = dict(self.model_extra or {})
        for name in ("path", "text", "base64"):
            value = getattr(self, name)
            if value is not None:
                raw[name] = value.get_secret_value() if isinstance(value, SecretStr) else value
        return raw


class StoreSettings(ComponentConfig):
    """``tls.trust-store.*`` / ``tls.key-store.*``, as the original KETE names them.

    When ``password`` does not open the store, kete tries no password, an empty one, ``changeit`` and
    ``secret`` in turn, as KETE does; private keys are tried with ``key-password``, then the store's
    password, then the same defaults.
    """

    loader: LoaderSettings | None = None
    password: SecretStr | None = None
    key_password: SecretStr | None = None
    type: StoreType | None = None
    trust_manager_algorithm: ManagerAlgorithm | None = None
    key_manager_algorithm: ManagerAlgorithm | None = None


class TlsSettings(ComponentConfig):
    """``tls.*`` of a component that connects to a server: how it verifies the server and proves who it is.

    Trusted certificates (``ca-file``, ``trust-store``) are added to the system's CAs, as KETE adds its
    trust store to the JVM's. A client certificate comes from ``cert-file``/``key-file`` or ``key-store``.
    """

    enabled: bool = False
    """Use TLS. A component whose address says so (an ``https://`` URL) turns it on by itself."""
    version: TlsVersion = "tls"
    verify: bool = True
    """Verify the server's certificate chain. Switch it off only for a throw-away test server."""
    verify_hostname: bool = True
    """Check that the server's certificate names the host. KETE's default was ``false``; kete's is ``true``."""
    ca_file: str | None = None
    """Extra trusted CAs: a PEM file."""
    cert_file: str | None = None
    """Client certificate chain for mutual TLS: a PEM file, which may also hold the key."""
    key_file: str | None = None
    """The client certificate's private key (PEM), when ``cert-file`` does not hold it."""
    key_password: SecretStr | None = None
    """Password of an encrypted ``key-file``."""
    trust_store: StoreSettings | None = None
    key_store: StoreSettings | None = None


class ServerTlsSettings(ComponentConfig):
    """``tls.*`` of a component that listens: its certificate and, optionally, required client certificates.

    The certificate comes from ``cert-file``/``key-file`` or ``key-store``; setting either serves TLS.
    Client certificates are required when ``client-ca-file`` or ``trust-store`` names the CAs that may
    sign them (only those: the system's CAs are never trusted for client certificates).
    """

    cert_file: str | None = None
    """Server certificate chain (PEM; may also hold the key)."""
    key_file: str | None = None
    key_password: SecretStr | None = None
    client_ca_file: str | None = None
    """CAs (PEM) that sign accepted client certificates; setting it makes a client certificate mandatory."""
    version: TlsVersion = "tls"
    key_store: StoreSettings | None = None
    trust_store: StoreSettings | None = None

    @property
    def enabled(self) -> bool:
        """True when the component serves TLS."""
        return self.cert_file is not None or self.key_store is not None
