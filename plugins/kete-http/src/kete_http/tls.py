"""TLS settings of the HTTP sink (a client) and the HTTP source (a server), and their SSL contexts.

The sink accepts kete's short settings (``tls.ca-file``, ``tls.cert-file``, ``tls.key-file``) and the
original KETE's certificate loaders (``tls.trust-store.loader.kind = "pem-file-path"`` …) for the
PEM and DER loader kinds. Python's ``ssl`` module reads PEM files only, so key material given as
text or base64 is written to a private temporary file just long enough to be loaded.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, SecretStr

from kete_core import ComponentConfig

_VERSIONS = {
    "tls": None,
    "tlsv1.2": ssl.TLSVersion.TLSv1_2,
    "tlsv1.3": ssl.TLSVersion.TLSv1_3,
}


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


TlsVersion = Annotated[Literal["tls", "tlsv1.2", "tlsv1.3"], BeforeValidator(_lower)]
"""``TLS`` (the library's minimum, TLS 1.2 here), ``TLSv1.2`` or ``TLSv1.3``: the lowest version accepted."""

LoaderKind = Annotated[
    Literal[
        "pem-file-path", "pem-file-text", "pem-file-base64", "der-file-path", "der-file-base64",
        "pkcs12-file-path", "pkcs12-file-base64", "jks-file-path", "jks-file-base64",
        "pkcs7-file-path", "pkcs7-file-base64",
    ],
    BeforeValidator(_lower),
]  # fmt: skip


class LoaderSettings(ComponentConfig):
    """``tls.trust-store.loader.*`` / ``tls.key-store.loader.*``: where certificate material comes from."""

    kind: LoaderKind
    path: str | None = None
    text: SecretStr | None = None
    base64: SecretStr | None = None

    def problems(self, where: str) -> list[tuple[str, str]]:
        """(setting, message) pairs for what cannot work; empty when the loader is usable."""
        if self.kind.startswith(("pkcs12", "jks", "pkcs7")):
            return [
                (
                    f"{where}.kind",
                    f"certificate loader '{self.kind}' is not supported by kete; convert the material to PEM "
                    "(openssl pkcs12 -in store.p12 -out store.pem -nodes) and use 'pem-file-path'",
                )
            ]
        needed = self.kind.rsplit("-", 1)[1]
        if getattr(self, needed) is None:
            return [(f"{where}.{needed}", f"loader kind '{self.kind}' needs '{needed}'")]
        return []

    def read(self) -> bytes:
        """The material's bytes (PEM text or DER)."""
        source = self.kind.rsplit("-", 1)[1]
        if source == "path":
            assert self.path is not None
            return Path(self.path).read_bytes()
        if source == "text":
            assert self.text is not None
            return self.text.get_secret_value().encode()
        assert self.base64 is not None
        try:
            return base64.b64decode(self.base64.get_secret_value(), validate=True)
        except binascii.Error as exc:
            raise ValueError(f"loader.base64 is not valid base64: {exc}") from exc


class StoreSettings(ComponentConfig):
    """``tls.trust-store.*`` / ``tls.key-store.*`` as in KETE; ``type`` and the algorithms are accepted
    for compatibility and have no effect (PEM and DER need neither)."""

    loader: LoaderSettings
    password: SecretStr | None = None
    key_password: SecretStr | None = None
    type: str | None = None
    trust_manager_algorithm: str | None = None
    key_manager_algorithm: str | None = None


class ClientTlsSettings(ComponentConfig):
    """``destination.tls.*``: how the sink verifies the server and proves who it is."""

    enabled: bool = False
    """Use HTTPS with ``host``/``port``; an ``https://`` ``url`` turns it on by itself."""
    version: TlsVersion = "tls"
    verify: bool = True
    """Verify the server's certificate chain. Switch off only for a throw-away test server."""
    verify_hostname: bool = True
    """Check that the certificate names the host (KETE's default was false; kete's is true)."""
    ca_file: str | None = None
    """Extra trusted CAs (PEM), added to the system's."""
    cert_file: str | None = None
    """Client certificate (PEM; may also hold the key) for mutual TLS."""
    key_file: str | None = None
    key_password: SecretStr | None = None
    trust_store: StoreSettings | None = None
    key_store: StoreSettings | None = None

    def problems(self) -> list[tuple[str, str]]:
        """(setting, message) pairs relative to the sink's settings; empty when usable."""
        found = []
        if self.key_file and not self.cert_file:
            found.append(("tls.cert-file", "tls.key-file needs tls.cert-file"))
        if self.trust_store is not None:
            found += self.trust_store.loader.problems("tls.trust-store.loader")
        if self.key_store is not None:
            found += self.key_store.loader.problems("tls.key-store.loader")
            if self.key_store.loader.kind.startswith("der"):
                found.append(("tls.key-store.loader.kind", "a key store holds a certificate and a key: use pem-file-*"))
        return found


class ServerTlsSettings(ComponentConfig):
    """``[sources.<name>.tls]``: the source's server certificate and, optionally, required client certificates."""

    cert_file: str | None = None
    """Server certificate chain (PEM; may also hold the key). Setting it turns HTTPS on."""
    key_file: str | None = None
    key_password: SecretStr | None = None
    client_ca_file: str | None = None
    """CAs (PEM) that sign accepted client certificates; setting it makes a client certificate mandatory."""
    version: TlsVersion = "tls"

    def problems(self) -> list[tuple[str, str]]:
        """(setting, message) pairs relative to the source's settings; empty when usable."""
        if (self.key_file or self.client_ca_file) and not self.cert_file:
            return [("tls.cert-file", "the server certificate is required for HTTPS")]
        return []

    @property
    def enabled(self) -> bool:
        """True when the source serves HTTPS."""
        return self.cert_file is not None


@contextlib.contextmanager
def _as_file(data: bytes) -> Iterator[str]:
    handle, name = tempfile.mkstemp(prefix="kete-tls-", suffix=".pem")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        yield name
    finally:
        Path(name).unlink(missing_ok=True)


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def _minimum(context: ssl.SSLContext, version: str) -> None:
    minimum = _VERSIONS[version]
    if minimum is not None:
        context.minimum_version = minimum


def client_context(settings: ClientTlsSettings) -> ssl.SSLContext:
    """The sink's SSL context; raise ``ValueError``/``OSError``/``ssl.SSLError`` for unusable material."""
    context = ssl.create_default_context()
    _minimum(context, settings.version)
    if settings.ca_file:
        context.load_verify_locations(cafile=settings.ca_file)
    if settings.trust_store is not None:
        material = settings.trust_store.loader.read()
        if settings.trust_store.loader.kind.startswith("der"):
            context.load_verify_locations(cadata=material)
        else:
            context.load_verify_locations(cadata=material.decode("ascii"))
    if not settings.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif not settings.verify_hostname:
        context.check_hostname = False
    if settings.cert_file:
        context.load_cert_chain(settings.cert_file, settings.key_file, _secret(settings.key_password))
    if settings.key_store is not None:
        store = settings.key_store
        password = _secret(store.key_password) or _secret(store.password)
        with _as_file(store.loader.read()) as name:
            context.load_cert_chain(name, None, password)
    return context


def server_context(settings: ServerTlsSettings) -> ssl.SSLContext | None:
    """The source's SSL context, or None for plain HTTP."""
    if settings.cert_file is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    _minimum(context, settings.version)
    context.load_cert_chain(settings.cert_file, settings.key_file, _secret(settings.key_password))
    if settings.client_ca_file:
        context.load_verify_locations(cafile=settings.client_ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
    return context
