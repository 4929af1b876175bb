"""``properties``: Jackson's Java-properties writer (``JavaPropsMapper``), byte for byte.

Nested objects are flattened with dots (``details.username=alice``), arrays with 1-based indexes
(``list.1=a``), a null is written as an empty value (``error=``) and an empty object not at all. The
bytes are ISO-8859-1: ``\\``, ``\\t``, ``\\n`` and ``\\r`` are escaped with a backslash, other control
characters (U+0000-U+001F, U+007F-U+009F) and everything above U+00FF as ``\\uXXXX`` (emoji as a
surrogate pair). Keys also escape space, ``=``, ``:``, ``#`` and ``!``.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from kete_core import Event, Serializer
from kete_serializers.jackson_tree import jackson_tree, scalar


def _u(code: int) -> str:
    return f"\\u{code:04X}"


_VALUE_ESCAPES = {code: _u(code) for code in (*range(0x20), *range(0x7F, 0xA0))}
_VALUE_ESCAPES.update({ord("\\"): "\\\\", ord("\t"): "\\t", ord("\n"): "\\n", ord("\r"): "\\r"})
_KEY_ESCAPES = {**_VALUE_ESCAPES, **{ord(c): "\\" + c for c in " =:#!"}}
_BEYOND_LATIN1 = re.compile("[^\x00-\xff]")


def _utf16_escape(match: re.Match[str]) -> str:
    encoded = match.group().encode("utf-16-be", "surrogatepass")
    return "".join(_u(int.from_bytes(encoded[i : i + 2])) for i in range(0, len(encoded), 2))


def _escape(text: str, table: dict[int, str]) -> str:
    return _BEYOND_LATIN1.sub(_utf16_escape, text.translate(table))


def _lines(prefix: str, value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _lines(f"{prefix}.{key}" if prefix else str(key), item, out)
    elif isinstance(value, list):
        for index, item in enumerate(value, 1):
            _lines(f"{prefix}.{index}", item, out)
    else:
        value = scalar(prefix, value)
        text = "" if value is None else ("true" if value is True else "false" if value is False else str(value))
        out.append(f"{_escape(prefix, _KEY_ESCAPES)}={_escape(text, _VALUE_ESCAPES)}\n")


class PropertiesSerializer(Serializer):
    """Writes the event as Java properties, as the original's ``PropertiesSerializer``."""

    content_type: ClassVar[str] = "text/plain"
    binary: ClassVar[bool] = True  # ISO-8859-1, not UTF-8: a sink that needs UTF-8 text must not assume it

    def serialize(self, event: Event) -> bytes:
        out: list[str] = []
        _lines("", jackson_tree(event), out)
        return "".join(out).encode("latin-1")
