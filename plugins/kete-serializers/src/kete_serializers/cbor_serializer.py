"""``cbor``: Jackson's CBOR writer (``new ObjectMapper(new CBORFactory())``), byte for byte.

Jackson writes an object (the event bean and its ``details`` map) as an **indefinite-length map**
(``0xBF`` … ``0xFF``), keys and strings as definite-length UTF-8 text with the shortest length
prefix, integers in their shortest form, ``null`` as ``0xF6``. A string longer than 3996 UTF-16
units is written in chunks of at most that many units (never splitting a surrogate pair) inside an
indefinite-length text string (``0x7F`` … ``0xFF``). cbor2 writes every map with a definite length,
so these few rules are written here.
"""

from __future__ import annotations

from typing import Any, ClassVar

from kete_core import Event, Serializer
from kete_serializers.jackson_tree import jackson_tree, scalar

MAX_CHUNK_UNITS = 3996  # CBORGenerator.MAX_LONG_STRING_CHARS: (16000 / 4) - 4
_NULL, _FALSE, _TRUE = b"\xf6", b"\xf4", b"\xf5"


def _head(major: int, value: int) -> bytes:
    """The shortest CBOR head of *major* type carrying *value* (RFC 8949 §3)."""
    if value < 24:
        return bytes((major | value,))
    for suffix, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if value < 1 << (8 * size):
            return bytes((major | suffix,)) + value.to_bytes(size)
    raise ValueError(f"the integer {value} does not fit in 64 bits")


def _text(text: str, path: str) -> bytes:
    if 2 * len(text) <= MAX_CHUNK_UNITS:  # a character is at most 2 UTF-16 units
        return _utf8(text, path)
    units = len(text.encode("utf-16-le", "surrogatepass")) // 2
    if units <= MAX_CHUNK_UNITS:
        return _utf8(text, path)
    chunks = [b"\x7f"]
    start = 0
    while units - start > MAX_CHUNK_UNITS:
        end = _index_of_unit(text, start, MAX_CHUNK_UNITS)
        chunks.append(_utf8(text[start:end], path))
        start = end
    chunks.append(_utf8(text[start:], path))
    chunks.append(b"\xff")
    return b"".join(chunks)


def _index_of_unit(text: str, start: int, units: int) -> int:
    """The index in *text* after *units* UTF-16 units from *start*, one less when that would cut a
    surrogate pair (a character above U+FFFF is two units)."""
    count = 0
    index = start
    while True:
        width = 2 if ord(text[index]) > 0xFFFF else 1
        if count + width > units:
            return index
        count += width
        index += 1
        if count == units:
            return index


def _utf8(text: str, path: str) -> bytes:
    try:
        data = text.encode()
    except UnicodeEncodeError as exc:
        raise ValueError(f"field '{path}' holds a lone surrogate, which UTF-8 cannot carry") from exc
    return _head(0x60, len(data)) + data


def _value(value: Any, path: str, out: list[bytes]) -> None:
    if isinstance(value, dict):
        out.append(b"\xbf")
        for key, item in value.items():
            out.append(_text(str(key), path))
            _value(item, f"{path}.{key}" if path else str(key), out)
        out.append(b"\xff")
        return
    value = scalar(path, value)
    if value is None:
        out.append(_NULL)
    elif value is True or value is False:
        out.append(_TRUE if value else _FALSE)
    elif isinstance(value, int):
        out.append(_head(0x00, value) if value >= 0 else _head(0x20, -1 - value))
    else:
        out.append(_text(value, path))


class CborSerializer(Serializer):
    """Writes the event as the original's ``CborSerializer`` (Jackson CBOR)."""

    content_type: ClassVar[str] = "application/cbor"
    binary: ClassVar[bool] = True

    def serialize(self, event: Event) -> bytes:
        out: list[bytes] = []
        _value(jackson_tree(event), "", out)
        return b"".join(out)
