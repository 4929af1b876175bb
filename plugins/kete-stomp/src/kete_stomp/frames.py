"""STOMP 1.2 frames: writing them (header values escaped, ``content-length`` given) and reading them from a
stream (heart-beat end-of-lines skipped, bodies read by ``content-length`` when given, else up to NUL)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

_ESCAPES = {"\\": "\\\\", "\r": "\\r", "\n": "\\n", ":": "\\c"}
_UNESCAPES = {"\\\\": "\\", "\\r": "\r", "\\n": "\n", "\\c": ":"}


class FrameError(Exception):
    """The peer sent something that is not a STOMP frame."""


@dataclass
class Frame:
    """One STOMP frame: the command, its headers (the first of a repeated header wins) and its body."""

    command: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def describe(self) -> str:
        """The frame as an error names it: ``message`` header and body text."""
        text = self.headers.get("message", "").strip()
        detail = self.body.decode(errors="replace").strip()
        return "; ".join(part for part in (text, detail) if part) or self.command


def _escape(text: str) -> str:
    return "".join(_ESCAPES.get(char, char) for char in text)


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out, index = [], 0
    while index < len(text):
        pair = text[index : index + 2]
        if pair in _UNESCAPES:
            out.append(_UNESCAPES[pair])
            index += 2
        else:
            out.append(text[index])
            index += 1
    return "".join(out)


def encode(command: str, headers: Mapping[str, str], body: bytes = b"", *, escape: bool = True) -> bytes:
    """A frame's bytes; header names and values are escaped as STOMP 1.2 says, except in CONNECT frames
    (*escape* false)."""
    convert = _escape if escape else str
    lines = [command, *(f"{convert(name)}:{convert(value)}" for name, value in headers.items())]
    return ("\n".join(lines) + "\n\n").encode() + body + b"\x00"


async def read(reader: asyncio.StreamReader) -> Frame | None:
    """The next frame, or None when the stream ended cleanly between frames."""
    line = b"\n"
    while line in (b"\n", b"\r\n"):  # heart-beats
        line = await reader.readline()
        if not line:
            return None
    command = line.rstrip(b"\r\n").decode()
    headers: dict[str, str] = {}
    while True:
        line = await reader.readline()
        if not line:
            raise FrameError(f"the connection closed inside a {command} frame")
        line = line.rstrip(b"\r\n")
        if not line:
            break
        name, sep, value = line.decode().partition(":")
        if not sep:
            raise FrameError(f"a header line without ':' in a {command} frame")
        headers.setdefault(_unescape(name), _unescape(value) if command != "CONNECTED" else value)
    length = headers.get("content-length")
    if length is not None and length.isdigit():
        body = await reader.readexactly(int(length) + 1)
        if body[-1:] != b"\x00":
            raise FrameError(f"a {command} frame's body is not followed by NUL")
        return Frame(command, headers, body[:-1])
    body = await reader.readuntil(b"\x00")
    return Frame(command, headers, body[:-1])
