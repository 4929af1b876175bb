"""Reading a growing file line by line, with a position that survives restarts, rotation and
truncation. Used by the ``file`` source; other sources that tail files (logs) use it too."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import orjson

# About one batch of events per read: a batch is parsed, routed and freed while its memory is
# still in the CPU's cache (a 1 MiB read was 20 % slower).
_CHUNK = 1 << 18
_TAIL_STEP = 65536


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


@dataclass
class Chunk:
    """Whole lines read, numbered from *first_line*, their size in bytes with the newlines, and
    the position after them."""

    lines: list[bytes]
    first_line: int
    size: int
    position: Position


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

    @staticmethod
    def _advance(lines: list[bytes], position: Position, end: int) -> Chunk:
        after = Position(position.device, position.inode, end, position.line + len(lines))
        return Chunk(lines, position.line + 1, end - position.offset, after)

    async def chunks(self, stop: asyncio.Event, start: Position | None = None) -> AsyncIterator[Chunk]:
        """Yield chunks of whole lines until the end of the file (or *stop*, when following)."""
        stream, position = self._open(start)
        remainder = b""
        try:
            while not stop.is_set():
                data = stream.read(_CHUNK)
                if data:
                    # Split the new data alone and join the remainder to its first line: no copy
                    # of the whole buffer.
                    lines = data.split(b"\n")
                    end = position.offset + len(remainder) + len(data)
                    lines[0] = remainder + lines[0]
                    remainder = lines.pop()
                    if lines:
                        chunk = self._advance(lines, position, end - len(remainder))
                        position = chunk.position
                        yield chunk
                    continue
                if not self.follow:
                    if remainder.strip():
                        yield self._advance([remainder], position, position.offset + len(remainder))
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
