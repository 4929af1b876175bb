"""A reader for Java KeyStore (JKS) files: trusted certificates and private keys with their chains.

kete reads JKS itself rather than through pyjks: pyjks (last released in 2020) pulls in twofish, which
has no wheels and needs a C compiler to install, for a format this small. The layout is Sun's
``JavaKeyStore``: a magic number, a version, the entries, and a SHA-1 digest keyed by the store password.
Private keys are protected by Sun's ``KeyProtector`` (a SHA-1 key stream, OID 1.3.6.1.4.1.42.2.17.1.1).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

JKS_MAGIC = 0xFEEDFEED
JCEKS_MAGIC = 0xCECECECE
_KEY_PROTECTOR_OID = bytes.fromhex("060a2b060104012a021101 01".replace(" ", ""))
_SALT = 20
_DIGEST = 20


class JksError(ValueError):
    """The bytes are not a JKS store kete can read."""


class JksPasswordError(JksError):
    """The password does not match the store's integrity digest, or does not decrypt a key."""


@dataclass(frozen=True)
class JksKey:
    """A private-key entry: the protected key and the DER certificates of its chain."""

    alias: str
    protected: bytes
    chain: tuple[bytes, ...]

    def decrypt(self, password: str) -> bytes:
        """The PKCS#8 ``PrivateKeyInfo`` (DER) of this entry; :class:`JksPasswordError` for a wrong password."""
        data = _protected_key_data(self.protected)
        if len(data) < _SALT + _DIGEST:
            raise JksError(f"the key of '{self.alias}' is truncated")
        salt, encrypted, check = data[:_SALT], data[_SALT:-_DIGEST], data[-_DIGEST:]
        secret = _password_bytes(password)
        stream = bytearray()
        digest = salt
        while len(stream) < len(encrypted):
            digest = hashlib.sha1(secret + digest).digest()
            stream += digest
        plain = bytes(a ^ b for a, b in zip(encrypted, stream, strict=False))
        if not hmac.compare_digest(hashlib.sha1(secret + plain).digest(), check):
            raise JksPasswordError(f"the password does not decrypt the key of '{self.alias}'")
        return plain


@dataclass(frozen=True)
class JksStore:
    """The entries of a JKS file, in file order."""

    certificates: tuple[tuple[str, bytes], ...]
    """(alias, DER certificate) of each trusted-certificate entry."""
    keys: tuple[JksKey, ...]


def is_jks(data: bytes) -> bool:
    """Whether *data* starts with the JKS magic number."""
    return data[:4] == JKS_MAGIC.to_bytes(4, "big")


def is_jceks(data: bytes) -> bool:
    """Whether *data* starts with the JCEKS magic number."""
    return data[:4] == JCEKS_MAGIC.to_bytes(4, "big")


def _password_bytes(password: str) -> bytes:
    # Java hashes each UTF-16 char as two big-endian bytes.
    return password.encode("utf-16-be")


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise JksError("the store is truncated")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def u16(self) -> int:
        return int(struct.unpack(">H", self.take(2))[0])

    def u32(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def utf(self) -> str:
        return self.take(self.u16()).decode("utf-8", errors="replace")

    def blob(self) -> bytes:
        return self.take(self.u32())


def read_jks(data: bytes, password: str | None) -> JksStore:
    """Parse a JKS store; with a *password*, check the store's integrity digest first.

    As Java's ``KeyStore.load(stream, null)``, no password skips the integrity check (keys still need
    theirs).

    :raises JksPasswordError: the password does not match the digest.
    :raises JksError: the bytes are not a JKS store.
    """
    if not is_jks(data):
        raise JksError("not a JKS store (no 0xFEEDFEED magic number)")
    if len(data) < 12 + _DIGEST:
        raise JksError("the store is truncated")
    body, digest = data[:-_DIGEST], data[-_DIGEST:]
    if password is not None:
        expected = hashlib.sha1(_password_bytes(password) + b"Mighty Aphrodite" + body).digest()
        if not hmac.compare_digest(expected, digest):
            raise JksPasswordError("the password does not match the store's integrity digest")
    reader = _Reader(body)
    reader.take(4)
    version = reader.u32()
    if version not in (1, 2):
        raise JksError(f"unknown JKS version {version}")
    certificates: list[tuple[str, bytes]] = []
    keys: list[JksKey] = []
    for _ in range(reader.u32()):
        tag = reader.u32()
        alias = reader.utf()
        reader.take(8)  # creation date
        if tag == 1:
            protected = reader.blob()
            chain = []
            for _ in range(reader.u32()):
                if version == 2:
                    reader.utf()  # certificate type, "X.509"
                chain.append(reader.blob())
            keys.append(JksKey(alias, protected, tuple(chain)))
        elif tag == 2:
            if version == 2:
                reader.utf()
            certificates.append((alias, reader.blob()))
        else:
            raise JksError(f"entry '{alias}' has the unknown tag {tag}")
    return JksStore(tuple(certificates), tuple(keys))


def _der_item(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER item at *pos*."""
    if pos + 2 > len(data):
        raise JksError("malformed protected key")
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise JksError("malformed protected key")
    return tag, pos, pos + length


def _protected_key_data(info: bytes) -> bytes:
    """The encrypted data of an ``EncryptedPrivateKeyInfo`` protected by Sun's key protector."""
    tag, start, _end = _der_item(info, 0)
    if tag != 0x30:
        raise JksError("malformed protected key")
    tag, algorithm_start, algorithm_end = _der_item(info, start)
    if tag != 0x30 or not info[algorithm_start:algorithm_end].startswith(_KEY_PROTECTOR_OID):
        raise JksError("the key is not protected by Sun's JKS key protector")
    tag, data_start, data_end = _der_item(info, algorithm_end)
    if tag != 0x04:
        raise JksError("malformed protected key")
    return info[data_start:data_end]
