"""Java ``.properties`` files, as KETE users keep their configuration, read exactly as Java reads them.

The grammar is ``java.util.Properties.load``'s: ``key=value``, ``key: value`` and ``key value``;
``#`` and ``!`` comments; a line ending in an odd number of backslashes continues on the next one
(its leading blanks skipped); the escapes ``\\t \\n \\r \\f \\uXXXX`` and ``\\x`` for any other
``x``. A ``\\u`` without four hexadecimal digits is refused, as Java refuses it. The bytes are
decoded as Java's ``PropertyResourceBundle`` does: UTF-8, or ISO-8859-1 when they are not UTF-8
(files written by Java tools before UTF-8 were the default).
"""

from __future__ import annotations

_BLANKS = " \t\f"
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
_HEX = frozenset("0123456789abcdefABCDEF")


class PropertiesError(ValueError):
    """A line Java would refuse.

    :ivar line: the number of the line it starts on.
    """

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def decode(data: bytes) -> str:
    """The text of a ``.properties`` file: UTF-8, else ISO-8859-1 (as ``PropertyResourceBundle``)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("iso-8859-1")


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """``(first line number, logical line)``: Java's ``Properties.LineReader``, character by character."""
    lines: list[tuple[int, str]] = []
    buffer: list[str] = []
    number, start = 1, 1
    skip_blanks, continued, backslash, comment = True, False, False, False
    i, size = 0, len(text)
    while i < size:
        char = text[i]
        i += 1
        newline = char in "\r\n"
        if newline:
            if char == "\r" and i < size and text[i] == "\n":
                i += 1
            number += 1
        if comment:
            if newline:
                comment, skip_blanks = False, True
            continue
        if skip_blanks:
            if char in _BLANKS or (newline and not continued):
                continue
            skip_blanks, continued = False, False
        if not buffer and char in "#!":
            comment = True
            continue
        if not buffer:
            start = number
        if not newline:
            buffer.append(char)
            backslash = not backslash if char == "\\" else False
            continue
        if not buffer:
            skip_blanks = True
            continue
        if backslash:  # a continuation: the backslash is not part of the line
            buffer.pop()
            skip_blanks, continued, backslash = True, True, False
            continue
        lines.append((start, "".join(buffer)))
        buffer = []
        skip_blanks = True
    if buffer:
        lines.append((start, "".join(buffer[:-1] if backslash else buffer)))
    return lines


def _unescape(text: str, line: int) -> str:
    """Java's ``Properties.loadConvert``; ``\\uXXXX`` are UTF-16 code units, so pairs make one character."""
    if "\\" not in text:
        return text
    out: list[str] = []
    i, size = 0, len(text)
    while i < size:
        char = text[i]
        i += 1
        if char != "\\":
            out.append(char)
            continue
        if i == size:  # never: a line does not end in an unpaired backslash
            break
        char = text[i]
        i += 1
        if char == "u":
            digits = text[i : i + 4]
            if len(digits) < 4 or not set(digits) <= _HEX:
                # The digits are not shown: they may be part of a password.
                raise PropertiesError("malformed \\uxxxx escape: \\u must be followed by four hexadecimal digits", line)
            out.append(chr(int(digits, 16)))
            i += 4
        else:
            out.append(_ESCAPES.get(char, char))
    return "".join(out).encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def _split(line: str) -> tuple[str, str]:
    """Java's ``Properties.load0``: the key ends at an unescaped ``=``, ``:`` or blank; blanks and
    one ``=`` or ``:`` separate it from the value."""
    end, value_start, separated, backslash = 0, len(line), False, False
    while end < len(line):
        char = line[end]
        if char in "=:" and not backslash:
            value_start, separated = end + 1, True
            break
        if char in _BLANKS and not backslash:
            value_start = end + 1
            break
        backslash = not backslash if char == "\\" else False
        end += 1
    while value_start < len(line):
        char = line[value_start]
        if char not in _BLANKS:
            if separated or char not in "=:":
                break
            separated = True
        value_start += 1
    return line[:end], line[value_start:]


def java_trim(text: str) -> str:
    """Java's ``String.trim``: control characters and spaces (up to U+0020) off both ends."""
    return text.strip("".join(map(chr, range(0x21))))


def parse_properties(text: str) -> list[tuple[int, str, str]]:
    """``(line number, key, value)`` for each property in *text*, in order; keys and values are
    trimmed, as KETE trims every key and value it reads.

    :raises PropertiesError: for a line Java would refuse, with its number.
    """
    pairs = []
    for number, line in _logical_lines(text):
        key, value = _split(line)
        pairs.append((number, java_trim(_unescape(key, number)), java_trim(_unescape(value, number))))
    return pairs
