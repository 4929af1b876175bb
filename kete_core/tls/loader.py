"""The certificate-loader contract: what a ``loader.kind`` of a trust store or key store must do.

A certificate loader is a class declared in the entry-point group ``kete.certificate_loaders``; the
entry-point name is the ``kind`` users write (``tls.trust-store.loader.kind = "jks-file-path"``). kete
validates the loader's settings (``loader.*`` except ``kind``) with its nested ``Config`` model, then calls
:meth:`CertificateLoader.load` once per password candidate until one opens the store. The 11 kinds of the
original KETE are built in and declared the same way by ``kete-core``.

This module imports no cryptography library: certificates and keys are ``cryptography`` objects, named
here for type checkers only.
"""

from __future__ import annotations

import base64
import binascii
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from kete_core.contracts import ComponentConfig

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes


class TlsMaterialError(ValueError):
    """Certificate material that cannot be used: unreadable, malformed, or the wrong kind.

    :param message: what is wrong, in one sentence.
    :param setting: the setting at fault, relative to the store (``loader.path``, ``password``, …).
    :param hint: one line telling the user what to do.
    """

    def __init__(self, message: str, *, setting: str = "loader", hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.setting = setting
        self.hint = hint


class WrongPassword(TlsMaterialError):
    """The password does not open the store or the key; kete then tries the next password candidate."""

    def __init__(self, message: str = "wrong password", *, setting: str = "password", hint: str | None = None) -> None:
        super().__init__(message, setting=setting, hint=hint)


@dataclass(frozen=True)
class KeyEntry:
    """A private key with its certificate chain (the key's own certificate first).

    :ivar open: returns the private key, given a password candidate; raises :class:`WrongPassword` when
        the password does not decrypt it. Keys stored unencrypted ignore the password.
    """

    alias: str
    chain: tuple[x509.Certificate, ...]
    open: Callable[[str | None], PrivateKeyTypes]


@dataclass(frozen=True)
class StoreContents:
    """What a store holds: trusted certificates and private-key entries, in the store's order."""

    certificates: tuple[x509.Certificate, ...] = ()
    keys: tuple[KeyEntry, ...] = ()

    def trusted(self) -> tuple[x509.Certificate, ...]:
        """The certificates a trust store trusts: every certificate entry and each key entry's own
        certificate, as Java's trust managers read a key store."""
        return self.certificates + tuple(entry.chain[0] for entry in self.keys if entry.chain)


class CertificateLoader(ABC):
    """Reads a trust store's or key store's certificates and keys.

    Contract:

    - ``__init__`` receives the validated ``Config`` and must not read anything yet.
    - :meth:`load` is called with the configured password first, then with kete's fallbacks (none,
      empty, ``changeit``, ``secret``). It raises :class:`WrongPassword` when the password does not open
      the store, so that the next candidate is tried, and :class:`TlsMaterialError` (naming the setting)
      for anything no password fixes: a missing file, bad base64, a malformed store.
    - ``trust_only`` loaders (DER certificates, PKCS#7 bundles) cannot hold keys; kete refuses them as
      key stores before calling them.
    """

    Config: ClassVar[type[ComponentConfig]] = ComponentConfig
    trust_only: ClassVar[bool] = False
    """True for formats that carry certificates only; such a loader cannot serve as a key store."""

    def __init__(self, config: ComponentConfig) -> None:
        self.config = config

    @abstractmethod
    def load(self, password: str | None) -> StoreContents:
        """The store's contents, opened with *password* (None: no password)."""


# --------------------------------------------------------------------------- where the bytes come from


class PathSource(ComponentConfig):
    """``loader.path``: a file on the local file system."""

    path: str = Field(min_length=1)

    def read(self) -> bytes:
        """The file's bytes; :class:`TlsMaterialError` naming ``loader.path`` if it cannot be read."""
        try:
            return Path(self.path).read_bytes()
        except OSError as exc:
            raise TlsMaterialError(f"cannot read {self.path}: {exc.strerror or exc}", setting="loader.path") from exc


class TextSource(ComponentConfig):
    """``loader.text``: the material written into the configuration (PEM)."""

    text: str = Field(min_length=1)

    def read(self) -> bytes:
        """The text's bytes."""
        return self.text.encode()


class Base64Source(ComponentConfig):
    """``loader.base64``: the file's bytes, base64-encoded (line breaks and spaces are ignored)."""

    base64: str = Field(min_length=1)

    def read(self) -> bytes:
        """The decoded bytes; :class:`TlsMaterialError` naming ``loader.base64`` if it is not base64."""
        try:
            return base64.b64decode("".join(self.base64.split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise TlsMaterialError(f"not valid base64: {exc}", setting="loader.base64") from exc


Source = PathSource | TextSource | Base64Source


class FileLoader(CertificateLoader):
    """A loader that parses one file's bytes, read from ``path``, ``text`` or ``base64`` (its ``Config``).

    Subclasses implement :meth:`parse`; the bytes are read once, at the first :meth:`load`.
    """

    Config: ClassVar[type[ComponentConfig]] = PathSource

    def __init__(self, config: ComponentConfig) -> None:
        super().__init__(config)
        self._data: bytes | None = None

    def read(self) -> bytes:
        """The file's bytes (read once)."""
        if self._data is None:
            source: Source = self.config  # type: ignore[assignment]
            self._data = source.read()
        return self._data

    def load(self, password: str | None) -> StoreContents:
        return self.parse(self.read(), password)

    @abstractmethod
    def parse(self, data: bytes, password: str | None) -> StoreContents:
        """The store in *data*, opened with *password*."""
