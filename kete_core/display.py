"""Text that is shown to people: in log lines, dead letters, ``/ready`` and terminal output.

Two rules hold wherever kete shows text it did not write itself:

- :func:`redact`: a destination address never shows its credentials. The user information of
  every URL in the text (``https://user:password@host/``) becomes ``***``.
- :func:`escape_controls`: event data and raw input never reach a log line or a terminal as
  control characters. A newline in a realm name would forge a log line, and ESC, OSC, BEL or a C1
  control would drive the terminal showing it (set its title, move the cursor, hide text).
"""

from __future__ import annotations

import logging
import re

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s]*@")
# C0 controls, DEL, C1 controls, and the Unicode line and paragraph separators some viewers break on.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROLS_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def redact(text: str) -> str:
    """*text* with the user information of each URL in it replaced by ``***``
    (``http://***@host/path``), so that no password or token in an address is shown."""
    return _USERINFO.sub(r"\1***@", text) if "@" in text else text


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str, *, keep_newlines: bool = False) -> str:
    """*text* with every control character written as an escape (``\\n``, ``\\x1b``, ``\\x9b``), so
    that it shows as one inert line. *keep_newlines* keeps line feeds, for text whose lines are its
    structure (a traceback)."""
    pattern = _CONTROLS_BUT_NEWLINE if keep_newlines else _CONTROLS
    return pattern.sub(_escape, text) if pattern.search(text) else text


def shown(text: str) -> str:
    """*text* as kete shows text from outside: credentials redacted, control characters escaped."""
    return escape_controls(redact(text))


class TextFormatter(logging.Formatter):
    """``<time> <LEVEL> <logger>: <message>``, one line per record whatever the message holds: its
    control characters are escaped, so event data cannot forge a log line or drive a terminal, and
    URLs show no credentials. A traceback keeps its lines."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.message = shown(record.getMessage())
        record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + escape_controls(redact(record.exc_text), keep_newlines=True)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line
