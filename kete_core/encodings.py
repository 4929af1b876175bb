"""KETE's payload encodings, for any sink that sends bytes: ``content-encoding`` (``gzip``,
``deflate``), then ``content-transfer-encoding`` (``base64``).

The bytes are the original's: ``gzip`` is Java's ``GZIPOutputStream`` (default compression, no
file name, modification time 0, operating system "unknown" as Java 16 and later write it, where
Python's :func:`gzip.compress` would say "Unix"), ``deflate`` is Java's ``DeflaterOutputStream``, i.e. the zlib
format (RFC 1950, which is what HTTP's ``Content-Encoding: deflate`` means), not raw RFC 1951
blocks, and ``base64`` is the standard alphabet with padding and no line breaks. A sink lets its
settings model inherit :class:`EncodingSettings` and sends ``settings.encoding.encode(payload)``.
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator

from kete_core.contracts import ComponentConfig

# Java's Deflater.DEFAULT_COMPRESSION is zlib's level 6, for both encodings.
_LEVEL = 6
# Magic, deflate, no flags, modification time 0, no extra flags, operating system 255 (unknown).
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


def _gzip(data: bytes) -> bytes:
    deflater = zlib.compressobj(_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    trailer = struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
    return b"".join((_GZIP_HEADER, deflater.compress(data), deflater.flush(), trailer))


_CONTENT_ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": _gzip,
    "deflate": lambda data: zlib.compress(data, _LEVEL),
}
_TRANSFER_ENCODERS: dict[str, Callable[[bytes], bytes]] = {"base64": base64.b64encode}


def _choice(value: Any) -> Any:
    # As KETE: trimmed, lower-cased, and blank means none.
    if isinstance(value, str):
        value = value.strip().lower()
        return value or None
    return value


ContentEncoding = Annotated[Literal["gzip", "deflate"] | None, BeforeValidator(_choice)]
"""KETE's ``content-encoding``: ``gzip``, ``deflate``, or none (unset or blank)."""

ContentTransferEncoding = Annotated[Literal["base64"] | None, BeforeValidator(_choice)]
"""KETE's ``content-transfer-encoding``: ``base64``, or none (unset or blank)."""


@dataclass(frozen=True)
class PayloadEncoding:
    """What a sink does to each payload before sending it, and the headers that say so.

    :ivar content_encoding: ``gzip``, ``deflate`` or None.
    :ivar transfer_encoding: ``base64`` or None; applied after the content encoding.
    """

    content_encoding: str | None = None
    transfer_encoding: str | None = None
    _steps: tuple[Callable[[bytes], bytes], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        steps = []
        if self.content_encoding is not None:
            steps.append(_CONTENT_ENCODERS[self.content_encoding])
        if self.transfer_encoding is not None:
            steps.append(_TRANSFER_ENCODERS[self.transfer_encoding])
        object.__setattr__(self, "_steps", tuple(steps))

    @property
    def identity(self) -> bool:
        """Nothing to do: payloads are sent as serialized."""
        return not self._steps

    def encode(self, payload: bytes) -> bytes:
        """*payload* compressed, then transfer-encoded, as configured."""
        for step in self._steps:
            payload = step(payload)
        return payload

    @property
    def headers(self) -> dict[str, str]:
        """``Content-Encoding`` and ``Content-Transfer-Encoding`` as the original's http destination
        sets them (only those configured); other sinks put them where their protocol carries headers."""
        found = {}
        if self.content_encoding is not None:
            found["Content-Encoding"] = self.content_encoding
        if self.transfer_encoding is not None:
            found["Content-Transfer-Encoding"] = self.transfer_encoding
        return found


class EncodingSettings(ComponentConfig):
    """KETE's ``destination.content-encoding`` and ``destination.content-transfer-encoding``: inherit
    from this in a sink's settings model to accept them, and send ``config.encoding.encode(payload)``."""

    content_encoding: ContentEncoding = None
    """``gzip`` or ``deflate``: the payload is compressed."""
    content_transfer_encoding: ContentTransferEncoding = None
    """``base64``: the (compressed) payload is Base64-encoded."""

    @cached_property
    def encoding(self) -> PayloadEncoding:
        """The encoding these settings ask for (built once)."""
        return PayloadEncoding(self.content_encoding, self.content_transfer_encoding)
