"""``yaml``: Jackson's YAML writer (``new ObjectMapper(new YAMLFactory())``, SnakeYAML's emitter), byte for byte.

A document starts with ``---``; every string is double-quoted, escaped and folded at 80 columns as
SnakeYAML folds double-quoted scalars (a ``\\`` at the end of the line, the rest indented); ``null``,
numbers and booleans are plain; an empty object is ``{}``, an empty array ``[]``. Keys are plain unless
YAML would read them as something else (``true``, ``y``, ``~a``, ``1e``) or they hold control
characters: then double-quoted; a key plain YAML cannot hold (``a: b``, ``#x``) is single-quoted; the
empty key is written as the complex key ``? ""``. A key with a line break or of 128 characters and
more (a complex key) fails its event. PyYAML's emitter
differs in folding and quoting, so the few rules are written here.
"""

from __future__ import annotations

import re
from array import array
from typing import Any, ClassVar

from kete_core import Event, Serializer
from kete_serializers.jackson_tree import jackson_tree, scalar

WIDTH = 80  # SnakeYAML's default best width; Jackson keeps it (SPLIT_LINES is on by default)
_REPLACEMENTS = {
    0x00: "0", 0x07: "a", 0x08: "b", 0x09: "t", 0x0A: "n", 0x0B: "v", 0x0C: "f", 0x0D: "r", 0x1B: "e",
    0x22: '"', 0x5C: "\\", 0x85: "N", 0xA0: "_", 0x2028: "L", 0x2029: "P",
}  # fmt: skip
_PLAIN_TEXT = re.compile(r"[ !#-\[\]-~]*")
# Jackson quotes (double) names YAML 1.1 would read as booleans or null, and names starting like a number.
_RESERVED = {
    form for word in ("true", "false", "yes", "no", "y", "n", "on", "off", "null")
    for form in (word, word.capitalize(), word.upper())
}  # fmt: skip
_NUMBER_START = tuple("0123456789+-.~")
# SnakeYAML's analysis: line breaks make a key multi-line (written as a complex "? " key, which kete
# refuses); these characters ("special") allow only double quotes; these starts and runs forbid plain.
_LINE_BREAKS = re.compile("[\n\x85\u2028\u2029]")
_SPECIAL = re.compile("[\x00-\x08\x09\x0b-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
_NOT_PLAIN = re.compile(r"""^[#,\[\]{}&*!|>'"%@`]|^[-?:](?: |$)|^ | $|: |:$| #""")


def _printable(code: int) -> bool:
    """SnakeYAML's ``StreamReader.isPrintable``."""
    return (
        0x20 <= code <= 0x7E
        or code in (0x09, 0x0A, 0x0D, 0x85)
        or 0xA0 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def _escape(code: int, unit: int) -> str:
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code > 0xFFFF:
        return f"\\U{code:08x}"
    return f"\\u{unit:04x}"


def double_quoted(text: str, column: int, indent: int, *, split: bool = True) -> str:
    """*text* as SnakeYAML's ``Emitter.writeDoubleQuoted`` writes it, the opening quote at *column* and
    continuation lines at *indent*; columns are counted in UTF-16 code units, as Java counts them."""
    if _PLAIN_TEXT.fullmatch(text) and column + 1 + len(text) <= WIDTH:
        return f'"{text}"'
    units = array("H", text.encode("utf-16-le", "surrogatepass"))
    length = len(units)
    out = ['"']
    column += 1
    start = end = 0
    while end <= length:
        unit = units[end] if end < length else None
        if unit is None or unit in (0x22, 0x5C, 0x85, 0x2028, 0x2029, 0xFEFF) or not 0x20 <= unit <= 0x7E:
            if start < end:
                column += end - start
                out.append(_decode(units, start, end))
                start = end
            if unit is not None:
                if unit in _REPLACEMENTS:
                    data = "\\" + _REPLACEMENTS[unit]
                else:
                    code = unit
                    if 0xD800 <= unit <= 0xDBFF and end + 1 < length:
                        code = 0x10000 + ((unit - 0xD800) << 10) + (units[end + 1] - 0xDC00)
                    if _printable(code):
                        data = chr(code)
                        if code > 0xFFFF:
                            end += 1
                    else:
                        data = _escape(code, unit)
                        if code > 0xFFFF:
                            end += 1
                column += len(data.encode("utf-16-le", "surrogatepass")) // 2
                out.append(data)
                start = end + 1
        if 0 < end < length - 1 and (unit == 0x20 or start >= end) and column + (end - start) > WIDTH and split:
            data = "\\" if start >= end else _decode(units, start, end) + "\\"
            start = max(start, end)
            out.append(data + "\n" + " " * indent)
            column = indent
            if units[start] == 0x20:
                out.append("\\")
                column += 1
        end += 1
    out.append('"')
    return "".join(out)


def _decode(units: array[int], start: int, end: int) -> str:
    return units[start:end].tobytes().decode("utf-16-le", "surrogatepass")


def _key(key: str) -> str:
    """How Jackson's YAML writer names *key* in a block mapping (with the ``: ``)."""
    if len(key) >= 128 or _LINE_BREAKS.search(key):
        raise ValueError(f"the key {key[:40]!r} would be a complex YAML key, which kete does not write")
    if key == "":
        return '? ""\n{indent}: '
    if key in _RESERVED or key.startswith(_NUMBER_START) or _SPECIAL.search(key):
        return double_quoted(key, 0, 0, split=False) + ": "
    if _NOT_PLAIN.search(key):
        return "'" + key.replace("'", "''") + "': "
    return key + ": "


def _value(value: Any, path: str, column: int, indent: int) -> str:
    value = scalar(path, value)
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return double_quoted(value, column, indent + 2)


def _mapping(tree: dict[str, Any], indent: int, path: str, out: list[str]) -> None:
    pad = " " * indent
    for key, value in tree.items():
        name = _key(str(key)).replace("{indent}", pad)
        child = f"{path}.{key}" if path else str(key)
        line = pad + name
        column = len(line.rsplit("\n", 1)[-1].encode("utf-16-le", "surrogatepass")) // 2
        if isinstance(value, dict):
            if value:
                out.append(line.rstrip(" ") + "\n")
                _mapping(value, indent + 2, child, out)
            else:
                out.append(line + "{}\n")
        elif isinstance(value, list):
            if value:
                out.append(line.rstrip(" ") + "\n")
                for index, item in enumerate(value):
                    out.append(f"{pad}- {_value(item, f'{child}[{index}]', indent + 2, indent)}\n")
            else:
                out.append(line + "[]\n")
        else:
            out.append(line + _value(value, child, column, indent) + "\n")


class YamlSerializer(Serializer):
    """Writes the event as the original's ``YamlSerializer`` (Jackson YAML)."""

    content_type: ClassVar[str] = "application/yaml"
    binary: ClassVar[bool] = False

    def serialize(self, event: Event) -> bytes:
        out = ["---\n"]
        _mapping(jackson_tree(event), 0, "", out)
        return "".join(out).encode()
