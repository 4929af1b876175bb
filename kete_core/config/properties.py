"""Java ``.properties`` files, as KETE users keep their configuration.

Supports what ``java.util.Properties.load`` does: ``key=value``, ``key: value`` and
``key value``; ``#`` and ``!`` comments; backslash line continuations; and the escapes
``\\t \\n \\r \\f \\uXXXX``.
"""

from __future__ import annotations

import re

_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
_UNICODE = re.compile(r"u([0-9a-fA-F]{4})")


def _logical_lines(text: str) -> list[tuple[int, str]]:
    lines: list[tuple[int, str]] = []
    pending: str | None = None
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.lstrip() if pending is not None else raw
        if pending is None:
            stripped = line.lstrip()
            if not stripped or stripped[0] in "#!":
                continue
            start = number
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2 == 1:
            pending = (pending or "") + line[:-1]
            continue
        lines.append((start, (pending or "") + line))
        pending = None
    if pending is not None:
        lines.append((start, pending))
    return lines


def _unescape(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            unicode = _UNICODE.match(text, i + 1)
            if unicode:
                out.append(chr(int(unicode.group(1), 16)))
                i += 6
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _split(line: str) -> tuple[str, str]:
    line = line.lstrip()
    i = 0
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        if line[i] in "=: \t\f":
            break
        i += 1
    key, rest = line[:i], line[i:].lstrip(" \t\f")
    if rest[:1] in ("=", ":"):
        rest = rest[1:].lstrip(" \t\f")
    return _unescape(key), _unescape(rest)


def parse_properties(text: str) -> list[tuple[int, str, str]]:
    """``(line number, key, value)`` for each property in *text*, in order; values are trimmed."""
    return [(number, *_strip_value(*_split(line))) for number, line in _logical_lines(text)]


def _strip_value(key: str, value: str) -> tuple[str, str]:
    # KETE trims every value it reads.
    return key, value.strip()
