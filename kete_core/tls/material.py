"""Loading a ``tls.*`` block's certificates and keys, and handing them to client libraries.

:func:`load_tls` reads everything a block names, once, when a component is built (so ``kete check``
reports a wrong password or an unreadable file, naming the setting). The result, :class:`TlsMaterial`,
gives what each library needs: an :class:`ssl.SSLContext` (:func:`client_ssl_context`,
:func:`server_ssl_context`) or PEM text (librdkafka's ``ssl.ca.pem``, ``ssl.certificate.pem``,
``ssl.key.pem``). Python's ``ssl`` module reads certificate chains from files only: the chain and its key,
encrypted with a one-time password, are written to a private temporary file and removed at once.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import secrets
import ssl
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from kete_core.errors import ConfigError, ConfigErrors, KeteError
from kete_core.tls.loader import CertificateLoader, KeyEntry, StoreContents, TlsMaterialError, WrongPassword
from kete_core.tls.settings import ServerTlsSettings, StoreSettings, TlsSettings
from kete_core.validation import validate_settings

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

log = logging.getLogger("kete.tls")

FALLBACK_PASSWORDS: tuple[str | None, ...] = (None, "", "changeit", "secret")
"""What KETE tries after the configured password: none, an empty one, and the JDK's and Kafka's defaults."""

_FALLBACK_NAMES = "no password, an empty one, 'changeit' or 'secret'"


@dataclass(frozen=True)
class Identity:
    """A certificate chain (the leaf first) and its private key: who a client or server is."""

    chain: tuple[x509.Certificate, ...]
    key: PrivateKeyTypes


@dataclass(frozen=True)
class TlsMaterial:
    """The certificates and key a ``tls.*`` block names, loaded and checked.

    :ivar trusted: the configured trusted certificates (without the system's CAs); empty when only the
        system's CAs are trusted.
    :ivar identity: the client's or server's certificate chain and key, if one is configured.
    """

    trusted: tuple[x509.Certificate, ...] = ()
    identity: Identity | None = None

    def ca_pem(self, *, system: bool = True) -> str | None:
        """The trusted certificates as PEM, the system's CAs added (as KETE adds the JVM's), or None when
        none are configured (the library's default trust then applies)."""
        if not self.trusted:
            return None
        from cryptography.hazmat.primitives.serialization import Encoding

        own = [cert.public_bytes(Encoding.PEM).decode() for cert in self.trusted]
        return "".join(own) + (system_ca_pem() if system else "")

    def certificate_pem(self) -> str | None:
        """The identity's certificate chain as PEM, leaf first, or None."""
        if self.identity is None:
            return None
        from cryptography.hazmat.primitives.serialization import Encoding

        return "".join(cert.public_bytes(Encoding.PEM).decode() for cert in self.identity.chain)

    def private_key_pem(self, password: str | None = None) -> str | None:
        """The identity's private key as PKCS#8 PEM, encrypted with *password* if given, or None."""
        if self.identity is None:
            return None
        from cryptography.hazmat.primitives import serialization

        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
        )
        return self.identity.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        ).decode()


@functools.cache
def system_ca_pem() -> str:
    """The system's trusted CAs (OpenSSL's default CA file), as PEM."""
    context = ssl.create_default_context()
    return "".join(ssl.DER_cert_to_PEM_cert(der) for der in context.get_ca_certs(binary_form=True))


# --------------------------------------------------------------------------- loading


def _candidates(*first: str | None) -> list[str | None]:
    return list(dict.fromkeys((*first, *FALLBACK_PASSWORDS)))


def open_store(loader: CertificateLoader, password: str | None) -> tuple[StoreContents, str | None]:
    """The store opened with *password*, else KETE's fallbacks; return it and the password that opened it.

    :raises WrongPassword: when no candidate opens it.
    :raises TlsMaterialError: for anything else (passed on from the loader at the first try).
    """
    for candidate in _candidates(password):
        try:
            contents = loader.load(candidate)
        except WrongPassword:
            continue
        if candidate != password and password is not None:
            how = "without a password (unchecked, as Java reads it)" if candidate is None else "with a default password"
            log.warning("the configured store password is wrong; the store was read %s", how)
        return contents, candidate
    raise WrongPassword(
        f"wrong password: neither the configured password nor {_FALLBACK_NAMES} opens the store",
        hint="check the password",
    )


def open_key(entry: KeyEntry, passwords: Sequence[str | None]) -> PrivateKeyTypes:
    """*entry*'s private key, opened with the first of *passwords* (then KETE's fallbacks) that works."""
    for candidate in _candidates(*passwords):
        try:
            return entry.open(candidate)
        except WrongPassword:
            continue
    raise WrongPassword(
        f"no password opens the private key '{entry.alias}' (tried key-password, the store's password, "
        f"{_FALLBACK_NAMES})",
        setting="key-password",
    )


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def _identity_of(contents: StoreContents, passwords: Sequence[str | None]) -> Identity:
    from kete_core.tls.formats import key_owner_first, same_key

    entries = [entry for entry in contents.keys if entry.chain]
    if not entries:
        if contents.keys:
            raise TlsMaterialError("the private key comes with no certificate")
        raise TlsMaterialError("holds no private key", hint="a key store holds a key and its certificate chain")
    if len(entries) > 1:
        log.info("the key store holds %d keys; kete uses the first, '%s'", len(entries), entries[0].alias)
    key = open_key(entries[0], passwords)
    chain = key_owner_first(key, entries[0].chain)
    if not same_key(key, chain[0]):
        raise TlsMaterialError(
            f"the private key does not belong to the certificate '{chain[0].subject.rfc4514_string()}'"
        )
    return Identity(chain, key)


def _loader(store: StoreSettings, where: str, *, key_store: bool) -> CertificateLoader | None:
    from kete_core.discovery import load

    if store.loader is None:
        if key_store:
            raise ConfigError("a key store needs a loader", path=f"{where}.loader.kind")
        return None
    cls, info = load("certificate-loader", store.loader.kind, path=f"{where}.loader.kind")
    if key_store and cls.trust_only:
        raise ConfigError(
            f"'{store.loader.kind}' can only be a trust store: it holds certificates, never a private key",
            path=f"{where}.loader.kind",
            hint="a key store is pem-file-*, pkcs12-file-* or jks-file-*",
        )
    config = validate_settings(cls.Config, store.loader.loader_settings(), f"{where}.loader", info)
    return cls(config)  # type: ignore[no-any-return]


def _error(exc: TlsMaterialError, where: str) -> ConfigError:
    return ConfigError(exc.message, path=f"{where}.{exc.setting}", hint=exc.hint, cause=exc.__cause__)


def _read_file(path: str, setting: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise TlsMaterialError(f"cannot read {path}: {exc.strerror or exc}", setting=setting) from exc


def _pem_file(path: str, setting: str) -> StoreContents:
    from kete_core.tls.formats import parse_pem

    try:
        return parse_pem(_read_file(path, setting))
    except TlsMaterialError as exc:
        if exc.setting == "loader":
            exc.setting = setting
        raise


def _trust(settings: TlsSettings | ServerTlsSettings, path: str, errors: list[KeteError]) -> list[x509.Certificate]:
    trusted: list[x509.Certificate] = []
    ca_file = settings.ca_file if isinstance(settings, TlsSettings) else settings.client_ca_file
    ca_setting = "ca-file" if isinstance(settings, TlsSettings) else "client-ca-file"
    if ca_file:
        try:
            trusted += _pem_file(ca_file, ca_setting).trusted()
        except TlsMaterialError as exc:
            errors.append(_error(exc, path))
    if settings.trust_store is not None:
        where = f"{path}.trust-store"
        try:
            loader = _loader(settings.trust_store, where, key_store=False)
            if loader is not None:
                contents, _used = open_store(loader, _secret(settings.trust_store.password))
                trusted += contents.trusted()
                if not contents.trusted():
                    errors.append(ConfigError("the trust store holds no certificate", path=f"{where}.loader"))
        except TlsMaterialError as exc:
            errors.append(_error(exc, where))
        except KeteError as exc:
            errors.extend(exc.errors if isinstance(exc, ConfigErrors) else [exc])
    return trusted


def _identity(settings: TlsSettings | ServerTlsSettings, path: str, errors: list[KeteError]) -> Identity | None:
    if settings.key_file and not settings.cert_file:
        errors.append(ConfigError("key-file needs cert-file", path=f"{path}.cert-file"))
        return None
    if settings.cert_file and settings.key_store is not None:
        errors.append(ConfigError("set cert-file or key-store, not both", path=f"{path}.key-store"))
        return None
    key_password = _secret(settings.key_password)
    if settings.cert_file:
        try:
            contents = _pem_file(settings.cert_file, "cert-file")
            if settings.key_file:
                key = _pem_file(settings.key_file, "key-file")
                if not key.keys:
                    raise TlsMaterialError("no private key found", setting="key-file")
                contents = StoreContents(keys=(KeyEntry("key", contents.certificates, key.keys[0].open),))
            elif not contents.keys:
                raise TlsMaterialError("no private key found: set key-file", setting="cert-file")
            return _identity_of(contents, [key_password])
        except TlsMaterialError as exc:
            if exc.setting == "loader":
                exc.setting = "cert-file"
            errors.append(_error(exc, path))
        return None
    store = settings.key_store
    if store is None:
        return None
    where = f"{path}.key-store"
    try:
        loader = _loader(store, where, key_store=True)
        assert loader is not None
        contents, used = open_store(loader, _secret(store.password))
        return _identity_of(contents, [_secret(store.key_password), used])
    except TlsMaterialError as exc:
        errors.append(_error(exc, where))
    except KeteError as exc:
        errors.extend(exc.errors if isinstance(exc, ConfigErrors) else [exc])
    return None


def load_tls(settings: TlsSettings | ServerTlsSettings, path: str) -> TlsMaterial:
    """Read every certificate and key *settings* name, whether or not TLS is enabled (as KETE does).

    :param path: the config path of the ``tls`` block (``routes.r.destination.tls``), for errors.
    :raises ConfigErrors: one error per unusable setting, naming its path: an unreadable file, bad
        base64, a wrong password, a key store without a key, a trust-only format used as a key store.
    """
    errors: list[KeteError] = []
    trusted = _trust(settings, path, errors)
    identity = _identity(settings, path, errors)
    if errors:
        raise ConfigErrors(errors)
    return TlsMaterial(tuple(trusted), identity)


# --------------------------------------------------------------------------- SSL contexts


@contextlib.contextmanager
def _private_pem_file(text: str) -> Iterator[str]:
    handle, name = tempfile.mkstemp(prefix="kete-tls-", suffix=".pem")  # mode 0600
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        yield name
    finally:
        Path(name).unlink(missing_ok=True)


def _load_identity(context: ssl.SSLContext, material: TlsMaterial, path: str) -> None:
    password = secrets.token_urlsafe(24)
    text = (material.private_key_pem(password) or "") + (material.certificate_pem() or "")
    with _private_pem_file(text) as name:
        try:
            context.load_cert_chain(name, password=password)
        except ssl.SSLError as exc:
            raise ConfigError(
                f"the certificate and private key cannot be used: {exc.reason or exc}", path=path, cause=exc
            ) from exc


def _versions(context: ssl.SSLContext, version: str) -> None:
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if version == "tlsv1.2":
        context.maximum_version = ssl.TLSVersion.TLSv1_2


def _trust_pem(material: TlsMaterial) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding

    return "".join(cert.public_bytes(Encoding.PEM).decode() for cert in material.trusted)


def client_ssl_context(settings: TlsSettings, path: str, material: TlsMaterial | None = None) -> ssl.SSLContext:
    """The :class:`ssl.SSLContext` of a client (aiohttp's ``ssl=``): the system's CAs plus the configured
    ones, the client certificate if any, ``verify``/``verify-hostname`` and ``version`` applied.

    :param material: what :func:`load_tls` returned for *settings*, to not read it twice.
    :raises ConfigErrors: as :func:`load_tls`.
    """
    material = material if material is not None else load_tls(settings, path)
    context = ssl.create_default_context()
    _versions(context, settings.version)
    if material.trusted:
        context.load_verify_locations(cadata=_trust_pem(material))
    if not settings.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif not settings.verify_hostname:
        context.check_hostname = False
    if material.identity is not None:
        _load_identity(context, material, path)
    return context


def enabled_client_ssl(settings: TlsSettings, path: str) -> ssl.SSLContext | None:
    """The client's :class:`ssl.SSLContext` when ``tls.enabled``, else None; the stores are read
    either way, as KETE reads them, so a bad one fails the route at load.

    :param path: the config path of the ``tls`` block (``routes.r.destination.tls``), for errors.
    :raises ConfigErrors: as :func:`load_tls`.
    """
    material = load_tls(settings, path)
    return client_ssl_context(settings, path, material) if settings.enabled else None


def checked_client_ssl(
    settings: TlsSettings, path: str, problems: Iterable[tuple[str, str]] = (), *, secure: bool
) -> ssl.SSLContext | bool:
    """A client sink's settings checked in one pass, and aiohttp's ``ssl=`` for it.

    Raises :class:`ConfigErrors` with one error for each of *problems* (``(setting, message)``
    pairs under *path*, the sink's settings path) and each bad ``tls.*`` setting together: KETE
    reads the TLS material even when TLS is off, so a bad store fails the route at load. The
    context is built when *secure* (an ``https``/``wss`` target) or any ``tls.*`` setting is
    given; otherwise ``True`` (aiohttp's default: building a context takes a while).
    """
    errors: list[KeteError] = [ConfigError(message, path=f"{path}.{setting}") for setting, message in problems]
    try:
        material = load_tls(settings, f"{path}.tls")
    except ConfigErrors as exc:
        errors += exc.errors
    if errors:
        raise ConfigErrors(errors)
    if not secure and not settings.model_fields_set:
        return True
    return client_ssl_context(settings, f"{path}.tls", material)


def server_ssl_context(
    settings: ServerTlsSettings, path: str, material: TlsMaterial | None = None
) -> ssl.SSLContext | None:
    """The :class:`ssl.SSLContext` of a server (aiohttp's ``ssl_context=``), or None when TLS is not set up.

    Client certificates are required when CAs for them are configured; only those CAs are trusted.

    :raises ConfigErrors: as :func:`load_tls`, and when client CAs are set without a server certificate.
    """
    material = material if material is not None else load_tls(settings, path)
    if material.identity is None:
        if material.trusted:
            raise ConfigError(
                "client certificates can only be required over TLS: set the server's certificate",
                path=f"{path}.cert-file",
                hint="set cert-file and key-file, or key-store",
            )
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _versions(context, settings.version)
    _load_identity(context, material, path)
    if material.trusted:
        context.load_verify_locations(cadata=_trust_pem(material))
        context.verify_mode = ssl.CERT_REQUIRED
    return context
