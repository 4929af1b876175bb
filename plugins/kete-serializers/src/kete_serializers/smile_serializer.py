"""``smile``: Jackson's Smile writer (``new ObjectMapper(new SmileFactory())``), byte for byte.

No maintained Python library writes Smile, so this follows the format's specification
(https://github.com/FasterXML/smile-format-specification) with the choices of Jackson's
``SmileGenerator`` defaults: the header ``:)\\n`` with version 0 and **shared key names** on (shared
string values and raw binary off), no end marker. A key seen before in the same document is written
as a back-reference to it (its index in order of first use); strings use the tiny/short forms up to
64 bytes and the long form (``0xE0``/``0xE4`` … ``0xFC``) beyond; integers are zigzag VInts.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, ClassVar

from kete_core import Event, Serializer
from kete_serializers.jackson_tree import jackson_tree, scalar

HEADER = b":)\n\x01"  # version 0; bit 0: shared key names
START_OBJECT, END_OBJECT, END_OF_STRING = b"\xfa", b"\xfb", b"\xfc"
MAX_SHORT_UNICODE_NAME_BYTES = 56
MAX_SHORT_VALUE_BYTES = 64
# A fresh SmileGenerator marks a long value that might not fit its 8000-byte buffer (at 3 bytes a
# character) as Unicode, ASCII or not; one that recycled bigger buffers may not (both read the same).
OUTPUT_BUFFER = 8000
MAX_SHARED_NAMES = 1024
_LITERALS = {None: b"\x21", False: b"\x22", True: b"\x23"}


def _utf8(text: str, path: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError as exc:
        raise ValueError(f"field '{path}' holds a lone surrogate, which UTF-8 cannot carry") from exc


def _vint(value: int) -> bytes:
    """Smile's VInt: 7-bit groups, most significant first, the last group 6 bits with 0x80 set."""
    groups = [0x80 | (value & 0x3F)]
    value >>= 6
    while value:
        groups.append(value & 0x7F)
        value >>= 7
    return bytes(reversed(groups))


def _integer(value: int) -> bytes:
    if -(1 << 31) <= value < 1 << 31:
        zigzag = (value << 1) ^ (value >> 31)
        return bytes((0xC0 + zigzag,)) if zigzag <= 0x1F else b"\x24" + _vint(zigzag)
    if not -(1 << 63) <= value < 1 << 63:
        raise ValueError(f"the integer {value} does not fit in 64 bits")
    return b"\x25" + _vint((value << 1) ^ (value >> 63))


def _string(text: str, path: str) -> bytes:
    if not text:
        return b"\x20"
    data = _utf8(text, path)
    ascii_only = len(data) == len(text)
    if len(data) <= MAX_SHORT_VALUE_BYTES:  # then it has at most as many UTF-16 units, as Jackson checks first
        if ascii_only:
            token = 0x40 + len(data) - 1 if len(data) <= 32 else 0x60 + len(data) - 33
        else:
            token = 0x80 + len(data) - 2 if len(data) <= 33 else 0xA0 + len(data) - 34
        return bytes((token,)) + data
    long_ascii = ascii_only and 3 * len(text) + 2 <= OUTPUT_BUFFER
    return (b"\xe0" if long_ascii else b"\xe4") + data + END_OF_STRING


@lru_cache(maxsize=4096)  # events repeat their key names: encode each once
def _new_name(name: str, path: str) -> bytes:
    """A key name's first appearance in a document: short ASCII, short Unicode or long."""
    data = _utf8(name, path)
    if len(data) == len(name) and len(data) <= 64:
        return bytes((0x80 + len(data) - 1,)) + data
    if len(data) <= MAX_SHORT_UNICODE_NAME_BYTES:
        return bytes((0xC0 + len(data) - 2,)) + data
    return b"\x34" + data + END_OF_STRING


class _Names:
    """The key names of one document in order of first use, for back-references."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def write(self, name: str, path: str) -> bytes:
        if not name:
            return b"\x20"
        index = self.seen.get(name)
        if index is not None:
            return bytes((0x40 + index,)) if index < 64 else bytes((0x30 + (index >> 8), index & 0xFF))
        encoded = _new_name(name, path)
        if len(self.seen) == MAX_SHARED_NAMES:
            self.seen.clear()
        self.seen[name] = len(self.seen)
        return encoded


def _value(value: Any, path: str, names: _Names, out: list[bytes]) -> None:
    if isinstance(value, dict):
        out.append(START_OBJECT)
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            out.append(names.write(str(key), child))
            _value(item, child, names, out)
        out.append(END_OBJECT)
        return
    value = scalar(path, value)
    if value is None or value is True or value is False:
        out.append(_LITERALS[value])
    elif isinstance(value, int):
        out.append(_integer(value))
    else:
        out.append(_string(value, path))


class SmileSerializer(Serializer):
    """Writes the event as the original's ``SmileSerializer`` (Jackson Smile)."""

    content_type: ClassVar[str] = "application/x-jackson-smile"
    binary: ClassVar[bool] = True

    def serialize(self, event: Event) -> bytes:
        out = [HEADER]
        _value(jackson_tree(event), "", _Names(), out)
        return b"".join(out)
