"""``toml``: Jackson's TOML writer (``new ObjectMapper(new TomlFactory())``), byte for byte.

Nested objects are **dotted keys** (``details.username = 'alice'``), not tables; null is ``''``, an
empty object ``{}``. A string is a literal string (``'…'``) unless it holds ``'`` or a control character
other than tab; then a basic string (``"…"``) with ``\\b \\t \\n \\f \\" \\\\`` and ``\\u00XX`` for the rest
(a carriage return too). A key is bare when it is made of ``A-Za-z0-9_-``, else quoted the same way.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from kete_core import Event, Serializer
from kete_serializers.jackson_tree import jackson_tree, scalar

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_NOT_LITERAL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f']")
_BASIC = {code: f"\\u{code:04x}" for code in (*range(0x20), 0x7F)}
_BASIC.update({0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x22: '\\"', 0x5C: "\\\\"})


def _string(text: str) -> str:
    if _NOT_LITERAL.search(text):
        return f'"{text.translate(_BASIC)}"'
    return f"'{text}'"


def _key(key: str) -> str:
    return key if _BARE.fullmatch(key) else _string(key)


def _lines(prefix: str, path: str, tree: dict[str, Any], out: list[str]) -> None:
    for key, value in tree.items():
        name = f"{prefix}{_key(str(key))}"
        child = f"{path}.{key}" if path else str(key)
        if isinstance(value, dict) and value:
            _lines(f"{name}.", child, value, out)
            continue
        if isinstance(value, dict):
            text = "{}"
        else:
            value = scalar(child, value)
            if value is None:
                text = "''"
            elif isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, int):
                text = str(value)
            else:
                text = _string(value)
        out.append(f"{name} = {text}\n")


class TomlSerializer(Serializer):
    """Writes the event as the original's ``TomlSerializer`` (Jackson TOML)."""

    content_type: ClassVar[str] = "application/toml"
    binary: ClassVar[bool] = False

    def serialize(self, event: Event) -> bytes:
        out: list[str] = []
        _lines("", "", jackson_tree(event), out)
        return "".join(out).encode()
