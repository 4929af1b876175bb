"""STOMP 1.2 frames: writing them (header values escaped, ``content-length`` given) and reading them from a
stream (heart-beat end-of-lines skipped, bodies read by ``content-length`` when given, else up to NUL)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_ESCAPES = str.maketrans({"\\": "\\\\", "\r": "\\r", "\n": "\\n", ":": "\\c"})
_HEADERS_END = re.compile(rb"\r?\n\r?\n")
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
    return text.translate(_ESCAPES)


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


class FrameReader:
    """Reads frames from a stream a chunk at a time (not a line at a time): a broker answering a batch sends
    thousands of small RECEIPT frames back to back."""

    def __init__(self, reader: asyncio.StreamReader, chunk: int = 65536) -> None:
        self._reader = reader
        self._chunk = chunk
        self._buffer = bytearray()

    async def read(self, timeout: float | None = None) -> Frame | None:
        """The next frame, or None when the stream ended cleanly between frames; ``TimeoutError`` when nothing
        (not even a heart-beat) came for *timeout* seconds."""
        while True:
            frame = self._parse()
            if frame is not None:
                return frame
            async with asyncio.timeout(timeout):
                data = await self._reader.read(self._chunk)
            if not data:
                if self._buffer.strip(b"\r\n"):
                    raise FrameError("the connection closed inside a frame")
                return None
            self._buffer += data

    def _parse(self) -> Frame | None:
        buffer = self._buffer
        start = 0
        while start < len(buffer) and buffer[start] in (10, 13):  # heart-beats
            start += 1
        if start:
            del buffer[:start]
        found = _HEADERS_END.search(buffer)
        if found is None:
            return None
        lines = bytes(buffer[: found.start()]).decode().replace("\r\n", "\n").split("\n")
        command, headers = lines[0], {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise FrameError(f"a header line without ':' in a {command} frame")
            headers.setdefault(_unescape(name), _unescape(value) if command != "CONNECTED" else value)
        body_start = found.end()
        length = headers.get("content-length")
        if length is not None and length.isdigit():
            end = body_start + int(length)
            if len(buffer) <= end:
                return None
            if buffer[end] != 0:
                raise FrameError(f"a {command} frame's body is not followed by NUL")
        else:
            end = buffer.find(b"\x00", body_start)
            if end < 0:
                return None
        body = bytes(buffer[body_start:end])
        del buffer[: end + 1]
        return Frame(command, headers, body)
