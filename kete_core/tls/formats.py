"""The original KETE's 11 certificate loaders: PEM, DER, PKCS#7, PKCS#12 and JKS, from a path, text or base64.

As in KETE, ``pkcs12-*`` and ``jks-*`` read either format, told apart by the content (Java's key stores
are dual-format), and a DER or PKCS#7 file can only be a trust store.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import ClassVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12

from kete_core.contracts import ComponentConfig
from kete_core.tls import jks
from kete_core.tls.loader import (
    Base64Source,
    FileLoader,
    KeyEntry,
    PathSource,
    StoreContents,
    TextSource,
    TlsMaterialError,
    WrongPassword,
)

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----", re.DOTALL)


def _public_bytes(key: object) -> bytes:
    return key.public_bytes(  # type: ignore[attr-defined,no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def same_key(key: PrivateKeyTypes, certificate: x509.Certificate) -> bool:
    """Whether *certificate* certifies *key*'s public key."""
    return _public_bytes(key.public_key()) == _public_bytes(certificate.public_key())


def key_owner_first(key: PrivateKeyTypes, certificates: Sequence[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    """*certificates* with the one holding *key*'s public key first (PEM bundles list the CA first at times)."""
    public = _public_bytes(key.public_key())
    owners = [cert for cert in certificates if _public_bytes(cert.public_key()) == public]
    return tuple(owners[:1] + [cert for cert in certificates if cert not in owners[:1]])


def _chain_from(leaf: x509.Certificate, pool: list[x509.Certificate]) -> list[x509.Certificate]:
    """*leaf* and its issuers found in *pool* (which loses them), in order."""
    chain = [leaf]
    while True:
        issuer = next((cert for cert in pool if cert.subject == chain[-1].issuer and cert not in chain), None)
        if issuer is None or chain[-1].subject == chain[-1].issuer:
            return chain
        pool.remove(issuer)
        chain.append(issuer)


# --------------------------------------------------------------------------- PEM


def _open_pem_key(block: bytes) -> Callable[[str | None], PrivateKeyTypes]:
    encrypted = block.startswith(b"-----BEGIN ENCRYPTED") or b"Proc-Type: 4,ENCRYPTED" in block

    def open_key(password: str | None) -> PrivateKeyTypes:
        if encrypted and not password:
            raise WrongPassword("the private key is encrypted: set key-password", setting="key-password")
        try:
            return serialization.load_pem_private_key(block, password.encode() if encrypted and password else None)
        except (ValueError, TypeError) as exc:
            if encrypted:
                raise WrongPassword("the password does not decrypt the private key", setting="key-password") from exc
            raise TlsMaterialError(f"cannot read the private key: {exc}") from exc

    return open_key


def parse_pem(data: bytes, *, alias: str = "key") -> StoreContents:
    """Every certificate of a PEM file and its first private key (as KETE's PEM loaders read it).

    A key comes with all the file's certificates as its chain (kete puts the key's own first once the
    key is opened).
    """
    certificates: list[x509.Certificate] = []
    key_block: bytes | None = None
    for block in _PEM_BLOCK.finditer(data):
        label = block.group(1)
        if label == b"CERTIFICATE":
            try:
                certificates.append(x509.load_pem_x509_certificate(block.group(0)))
            except ValueError as exc:
                raise TlsMaterialError(f"a CERTIFICATE block cannot be read: {exc}") from exc
        elif label.endswith(b"PRIVATE KEY") and key_block is None:
            key_block = block.group(0)
    if key_block is None:
        if not certificates:
            raise TlsMaterialError("no PEM certificate or private key found", hint="is this a PEM file?")
        return StoreContents(certificates=tuple(certificates))
    return StoreContents(keys=(KeyEntry(alias, tuple(certificates), _open_pem_key(key_block)),))


class PemLoader(FileLoader):
    """PEM: certificates, and optionally one private key (PKCS#8, PKCS#1 or SEC1; encrypted with
    ``key-password``)."""

    def parse(self, data: bytes, password: str | None) -> StoreContents:
        return parse_pem(data)


class PemFilePath(PemLoader):
    """``pem-file-path``: a PEM file (``.pem``, ``.crt``, ``.cer``, ``.key``)."""

    Config: ClassVar[type[ComponentConfig]] = PathSource


class PemFileText(PemLoader):
    """``pem-file-text``: PEM text written into the configuration."""

    Config: ClassVar[type[ComponentConfig]] = TextSource


class PemFileBase64(PemLoader):
    """``pem-file-base64``: a PEM file, base64-encoded."""

    Config: ClassVar[type[ComponentConfig]] = Base64Source


# --------------------------------------------------------------------------- DER and PKCS#7 (trust only)


class DerLoader(FileLoader):
    """DER: one X.509 certificate (a PEM one is read too, as Java's certificate factory does)."""

    trust_only = True

    def parse(self, data: bytes, password: str | None) -> StoreContents:
        try:
            return StoreContents(certificates=(x509.load_der_x509_certificate(data),))
        except ValueError:
            pass
        try:
            return StoreContents(certificates=(x509.load_pem_x509_certificate(data),))
        except ValueError as exc:
            raise TlsMaterialError("not a DER X.509 certificate") from exc


class DerFilePath(DerLoader):
    """``der-file-path``: a DER certificate file (``.der``, ``.cer``); trust stores only."""

    Config: ClassVar[type[ComponentConfig]] = PathSource


class DerFileBase64(DerLoader):
    """``der-file-base64``: a DER certificate, base64-encoded; trust stores only."""

    Config: ClassVar[type[ComponentConfig]] = Base64Source


class Pkcs7Loader(FileLoader):
    """PKCS#7: a certificate bundle, DER or PEM (``.p7b``, ``.p7c``)."""

    trust_only = True

    def parse(self, data: bytes, password: str | None) -> StoreContents:
        for load in (pkcs7.load_der_pkcs7_certificates, pkcs7.load_pem_pkcs7_certificates):
            try:
                return StoreContents(certificates=tuple(load(data)))
            except ValueError:
                continue
        raise TlsMaterialError("not a PKCS#7 certificate bundle (DER or PEM)")


class Pkcs7FilePath(Pkcs7Loader):
    """``pkcs7-file-path``: a PKCS#7 bundle file; trust stores only."""

    Config: ClassVar[type[ComponentConfig]] = PathSource


class Pkcs7FileBase64(Pkcs7Loader):
    """``pkcs7-file-base64``: a PKCS#7 bundle, base64-encoded; trust stores only."""

    Config: ClassVar[type[ComponentConfig]] = Base64Source


# --------------------------------------------------------------------------- PKCS#12 and JKS


def _looks_like_pkcs12(data: bytes) -> bool:
    """A DER SEQUENCE whose first element is INTEGER 3 (a PFX, RFC 7292)."""
    if len(data) < 8 or data[0] != 0x30:
        return False
    size = data[1]
    start = 2 + (size & 0x7F if size & 0x80 else 0)
    return data[start : start + 3] == b"\x02\x01\x03"


def _read_pkcs12(data: bytes, password: str | None) -> StoreContents:
    try:
        store = pkcs12.load_pkcs12(data, password.encode() if password is not None else None)
    except ValueError as exc:
        raise WrongPassword("the password does not open the PKCS#12 store") from exc
    others = [cert.certificate for cert in store.additional_certs]
    if store.key is None or store.cert is None:
        leaf = [store.cert.certificate] if store.cert is not None else []
        return StoreContents(certificates=tuple(leaf + others))
    key = store.key
    alias = (store.cert.friendly_name or b"key").decode(errors="replace")
    chain = _chain_from(store.cert.certificate, others)
    entry = KeyEntry(alias, tuple(chain), lambda _password: key)
    return StoreContents(certificates=tuple(others), keys=(entry,))


def _open_jks_key(entry: jks.JksKey) -> Callable[[str | None], PrivateKeyTypes]:
    def open_key(password: str | None) -> PrivateKeyTypes:
        if password is None:
            raise WrongPassword("a JKS key needs a password", setting="key-password")
        try:
            return serialization.load_der_private_key(entry.decrypt(password), None)
        except jks.JksPasswordError as exc:
            raise WrongPassword(str(exc), setting="key-password") from exc
        except (jks.JksError, ValueError) as exc:
            raise TlsMaterialError(f"the key of '{entry.alias}' cannot be read: {exc}") from exc

    return open_key


def _read_jks(data: bytes, password: str | None) -> StoreContents:
    try:
        store = jks.read_jks(data, password)
        certificates = tuple(x509.load_der_x509_certificate(der) for _alias, der in store.certificates)
        keys = tuple(
            KeyEntry(entry.alias, tuple(map(x509.load_der_x509_certificate, entry.chain)), _open_jks_key(entry))
            for entry in store.keys
        )
    except jks.JksPasswordError as exc:
        raise WrongPassword(str(exc)) from exc
    except (jks.JksError, ValueError) as exc:
        raise TlsMaterialError(f"the JKS store cannot be read: {exc}") from exc
    return StoreContents(certificates=certificates, keys=keys)


def parse_key_store(data: bytes, password: str | None) -> StoreContents:
    """A JKS or PKCS#12 store, whichever *data* is."""
    if jks.is_jks(data):
        return _read_jks(data, password)
    if jks.is_jceks(data):
        raise TlsMaterialError(
            "a JCEKS store: kete reads JKS and PKCS#12 stores",
            hint="convert it: keytool -importkeystore -srcstoretype JCEKS -deststoretype PKCS12 ...",
        )
    if not _looks_like_pkcs12(data):
        raise TlsMaterialError("neither a JKS nor a PKCS#12 store")
    return _read_pkcs12(data, password)


class KeyStoreLoader(FileLoader):
    """A Java key store, JKS or PKCS#12, told apart by the content."""

    def parse(self, data: bytes, password: str | None) -> StoreContents:
        return parse_key_store(data, password)


class Pkcs12FilePath(KeyStoreLoader):
    """``pkcs12-file-path``: a PKCS#12 file (``.p12``, ``.pfx``); a JKS file is read too."""

    Config: ClassVar[type[ComponentConfig]] = PathSource


class Pkcs12FileBase64(KeyStoreLoader):
    """``pkcs12-file-base64``: a PKCS#12 store, base64-encoded; a JKS store is read too."""

    Config: ClassVar[type[ComponentConfig]] = Base64Source


class JksFilePath(KeyStoreLoader):
    """``jks-file-path``: a Java key store file (``.jks``, ``.keystore``), JKS or PKCS#12."""

    Config: ClassVar[type[ComponentConfig]] = PathSource


class JksFileBase64(KeyStoreLoader):
    """``jks-file-base64``: a Java key store, base64-encoded, JKS or PKCS#12."""

    Config: ClassVar[type[ComponentConfig]] = Base64Source
