"""Reading a growing file line by line, with a position that survives restarts, rotation and
truncation. Used by the ``file`` source; other sources that tail files (logs) use it too."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import cached_property
from operator import itemgetter
from pathlib import Path
from typing import IO, Any

import orjson

# About one batch of events per read: a batch is parsed, routed and freed while its memory is
# still in the CPU's cache (a 1 MiB read was 20 % slower).
_CHUNK = 1 << 18
_TAIL_STEP = 65536
# ``]``, ``,``, ``[`` within one line: the only way a line can hold two of the singleton arrays
# :func:`json_lines` wraps lines in (see there).
_TWO_ARRAYS = re.compile(rb"\][ \t\r]*,[ \t\r]*\[")
_FIRST = itemgetter(0)


@dataclass(frozen=True)
class Position:
    """Where reading stands: the file's identity, the byte offset after the last whole line read,
    and the number of lines read."""

    device: int = 0
    inode: int = 0
    offset: int = 0
    line: int = 0

    def encode(self) -> bytes:
        """The position as a checkpoint."""
        return orjson.dumps(self.__dict__)

    @classmethod
    def decode(cls, data: bytes | None) -> Position | None:
        """A position from :meth:`encode`'s output, or None."""
        return cls(**orjson.loads(data)) if data else None


def end_position(path: Path) -> Position:
    """The position after the last whole line of *path*: a line still being written is read later."""
    with path.open("rb") as stream:
        stat = os.fstat(stream.fileno())
        end = stat.st_size
        while end > 0:
            start = max(0, end - _TAIL_STEP)
            stream.seek(start)
            newline = stream.read(end - start).rfind(b"\n")
            if newline >= 0:
                return Position(stat.st_dev, stat.st_ino, start + newline + 1, 0)
            end = start
        return Position(stat.st_dev, stat.st_ino, 0, 0)


def cut_lines(head: bytes, data: bytes) -> tuple[bytes | None, bytes]:
    """Split *head* (a partial line) + *data* into the whole lines, joined by newlines without the
    last one (None when there is no whole line), and the partial line after them."""
    cut = data.rfind(b"\n")
    if cut < 0:
        return None, head + data
    # join copies a memoryview's bytes once; slicing and then adding would copy them twice.
    return b"".join((head, memoryview(data)[:cut])), data[cut + 1 :]


def _may_hold_two_arrays(text: bytes) -> bool:
    """True when some line of *text* may hold ``]``, ``,``, ``[``. Looks only where ``]`` is
    (memchr-fast, and rare in events) while that is cheaper than one scan of everything."""
    at = text.find(b"]")
    for _ in range(64):
        if at < 0:
            return False
        if _TWO_ARRAYS.match(text, at):
            return True
        at = text.find(b"]", at + 1)
    return _TWO_ARRAYS.search(text, at) is not None


def json_lines(text: bytes) -> list[Any] | None:
    """The JSON value of each newline-separated line of *text*, decoded in one call; None when a
    line is not exactly one JSON value (blank, malformed, two values) or that cannot be shown
    cheaply: decode those line by line to find the bad ones.

    Each line is wrapped in an array and the whole in one more: ``[[line1],[line2]]``. If that
    decodes to as many arrays as there are lines, each of one value, and no line holds ``]``,
    ``,``, ``[`` (which is how a line could close its array and open another, while two other
    lines share one), then every array is exactly one line and each line exactly one value.
    """
    if _may_hold_two_arrays(text):
        return None
    wrapped = text.replace(b"\n", b"],[")
    lines = (len(wrapped) - len(text)) // 2 + 1
    try:
        arrays = orjson.loads(b"".join((b"[[", wrapped, b"]]")))
    except orjson.JSONDecodeError:
        return None
    if len(arrays) != lines or set(map(type, arrays)) != {list} or set(map(len, arrays)) != {1}:
        return None
    return list(map(_FIRST, arrays))


class Chunk:
    """Whole lines read: *text*, joined by newlines without the last one, read from *start* and
    *size* bytes long with the newlines."""

    def __init__(self, text: bytes, start: Position, size: int) -> None:
        self.text = text
        self.start = start
        self.size = size

    @cached_property
    def count(self) -> int:
        """How many lines there are; counted when first asked, unless a reader that decoded them
        (and so knows) set it first."""
        return self.text.count(b"\n") + 1

    @property
    def first_line(self) -> int:
        """The number of the first line in the file, from 1."""
        return self.start.line + 1

    @property
    def position(self) -> Position:
        """The position after these lines."""
        start = self.start
        return Position(start.device, start.inode, start.offset + self.size, start.line + self.count)

    @property
    def lines(self) -> list[bytes]:
        """The lines, without their newlines."""
        return self.text.split(b"\n")


class LineReader:
    """Reads whole lines from *path*, from *start* (a checkpoint) if it is still the same file.

    With *follow*, waits for more at the end of the file, and starts over when the file is
    truncated or replaced (log rotation) after reading what was left of the old one.
    """

    def __init__(self, path: Path, *, follow: bool, poll_interval: float, at_end: bool = False) -> None:
        self.path = path
        self.follow = follow
        self.poll_interval = poll_interval
        self.at_end = at_end
        self.restarted: str | None = None

    def _open(self, start: Position | None, *, rotated: bool = False) -> tuple[IO[bytes], Position]:
        stream = self.path.open("rb")
        stat = os.fstat(stream.fileno())
        position = Position(stat.st_dev, stat.st_ino)
        if start is not None and (start.device, start.inode) == (stat.st_dev, stat.st_ino):
            if start.offset <= stat.st_size:
                stream.seek(start.offset)
                return stream, start
            self.restarted = f"{self.path} is shorter than the saved position: reading it from the start"
        elif start is not None:
            self.restarted = f"{self.path} is not the file read before: reading it from the start"
        elif self.at_end and not rotated:
            start = end_position(self.path)
            stream.seek(start.offset)
            return stream, start
        return stream, position

    def _replaced(self, stream: IO[bytes], position: Position) -> bool:
        # A writer may still append to a file just renamed away: finish it before switching.
        if os.fstat(stream.fileno()).st_size > stream.tell():
            return False
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return False
        return (stat.st_dev, stat.st_ino) != (position.device, position.inode) or stat.st_size < position.offset

    async def chunks(self, stop: asyncio.Event, start: Position | None = None) -> AsyncIterator[Chunk]:
        """Yield chunks of whole lines until the end of the file (or *stop*, when following)."""
        stream, position = self._open(start)
        remainder = b""
        try:
            while not stop.is_set():
                data = stream.read(_CHUNK)
                if data:
                    size = len(remainder) + len(data)
                    text, remainder = cut_lines(remainder, data)
                    if text is not None:
                        chunk = Chunk(text, position, size - len(remainder))
                        yield chunk
                        position = chunk.position
                    continue
                if not self.follow:
                    if remainder.strip():
                        yield Chunk(remainder, position, len(remainder))
                    return
                if self._replaced(stream, position):
                    stream.close()
                    remainder = b""
                    stream, position = self._open(None, rotated=True)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.poll_interval)
        finally:
            stream.close()
