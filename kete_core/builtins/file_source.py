"""``[sources.<name>] kind = "file"``: Keycloak events as JSON lines, from a file or stdin.

By default the source replays its input to the end and returns, and ``kete run`` exits once all
of it is delivered; with ``follow = true`` it keeps reading what is appended, like ``tail -f``.
Lines that are not events are reported with their line number and skipped. On a terminal, a long
replay shows a progress bar.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import sys
from itertools import pairwise, repeat
from pathlib import Path
from typing import Literal

import orjson
from pydantic import Field

from kete_core.contracts import ComponentConfig, Intake, Rejection, Source
from kete_core.errors import ConfigWarning, MalformedEvent, SourceError
from kete_core.event import Event, parse_event
from kete_core.fields import Duration
from kete_core.lines import Chunk, LineReader, Position, cut_lines, json_lines
from kete_core.progress import Progress

log = logging.getLogger("kete")


class FileSourceConfig(ComponentConfig):
    """Settings of the ``file`` source."""

    path: str
    """A JSON-lines file, or ``-`` for standard input."""
    follow: bool = False
    """Keep reading what is appended instead of stopping at the end."""
    start_at: Literal["beginning", "end"] = "beginning"
    """With ``follow``: read the file from its start, or only what is appended from now on."""
    poll_interval: Duration = 0.2
    """With ``follow``: how often to look for new data."""
    batch_size: int = Field(default=500, gt=0)
    """About how many events are submitted at once: each read is cut into near-equal batches of
    between ¾ and 1½ times this (fewer when less input is waiting)."""
    realm_names: dict[str, str] = {}
    """Realm id → realm name, for events that carry only ``realmId``."""
    resume: bool = True
    """Continue from the position saved by the last run (in the data dir) rather than start over."""


class FileSource(Source):
    """Reads JSON lines; see the module documentation."""

    Config = FileSourceConfig
    config: FileSourceConfig

    def __init__(self, name: str, config: FileSourceConfig) -> None:
        super().__init__(name, config)
        self.label = "<stdin>" if config.path == "-" else config.path

    def warnings(self) -> list[ConfigWarning]:
        path = Path(self.config.path)
        if self.config.path == "-" or path.is_file():
            return []
        problem = "is not a file" if path.exists() else "does not exist"
        return [
            ConfigWarning(
                f"the input '{self.config.path}' {problem} (relative paths start at {Path.cwd()})",
                path=f"sources.{self.name}.path",
                hint="`kete run` fails unless it exists by then",
            )
        ]

    async def run(self, intake: Intake) -> None:
        if self.config.path == "-":
            await self._read_stdin(intake)
            return
        path = Path(self.config.path)
        if not path.is_file():
            raise SourceError("cannot open input: No such file or directory", path=self.label)
        reader = LineReader(
            path,
            follow=self.config.follow,
            poll_interval=self.config.poll_interval,
            at_end=self.config.start_at == "end",
        )
        start = Position.decode(intake.checkpoint) if self.config.resume else None
        if start is not None:
            at_end = start.offset >= path.stat().st_size
            self.resumed_from = f"after line {start.line} of {self.label}{', its end' if at_end else ''}"
        total = None if self.config.follow else path.stat().st_size
        with Progress(f"source {self.name}", total) as progress:
            if start is not None:
                progress.advance(start.offset)
            async for chunk in reader.chunks(intake.stopping, start):
                if reader.restarted:
                    log.warning("source '%s': %s", self.name, reader.restarted)
                    reader.restarted = None
                await self._submit_text(chunk.text, chunk.first_line, intake, chunk)
                progress.advance(chunk.size)

    async def _read_stdin(self, intake: Intake) -> None:
        stream = sys.stdin.buffer
        # read1 returns what is there without waiting for a full buffer; an unbuffered stream
        # (stdin replaced by a raw file) does the same with read.
        read = stream.read1 if isinstance(stream, io.BufferedIOBase) else stream.read
        remainder = b""
        line = 1
        while not intake.stopping.is_set():
            data = await asyncio.to_thread(read, 1 << 20)
            if not data:
                break
            text, remainder = cut_lines(remainder, data)
            if text is not None:
                line += await self._submit_text(text, line, intake)
        if remainder.strip():
            await self._submit_text(remainder, line, intake)

    async def _submit_text(self, text: bytes, first: int, intake: Intake, chunk: Chunk | None = None) -> int:
        """Parse and submit the lines of *text*, numbered from *first*, in batches; return how many
        lines there were. From a file, *chunk*'s position goes with the last batch as checkpoint:
        a crash mid-way re-reads the chunk."""
        size = self.config.batch_size
        names = self.config.realm_names
        values = json_lines(text)
        lines: list[bytes] | None = None
        if values is None:
            lines = text.split(b"\n")
            count = len(lines)
        else:
            count = len(values)
        if chunk is not None:
            chunk.count = count
        # Near-equal batches: a read of 504 lines is one batch, not one of 500 and one of 4, each
        # paying the whole cost of a submit.
        parts = max(1, round(count / size))
        for start, end in pairwise([count * part // parts for part in range(parts + 1)]):
            batch = None
            if values is not None:
                with contextlib.suppress(Exception):
                    # Every line is a JSON value; one that is not an event fails the batch, which
                    # is then parsed line by line to name it.
                    batch = list(map(Event, values[start:end], repeat(names)))
            if batch is None:
                lines = text.split(b"\n") if lines is None else lines
                batch = self._parse(lines[start:end], first + start, intake)
            last = end == count
            await intake.submit(batch, chunk.position.encode() if chunk is not None and last else None)
            # Let the routes deliver this batch before the next is parsed: the events are freed
            # while they are still in the CPU's cache, which is most of the speed of a replay.
            await asyncio.sleep(0)
        return count

    def _parse(self, lines: list[bytes], first: int, intake: Intake) -> list[Event]:
        """The events among *lines* (numbered from *first*); the others are rejected by number."""
        names = self.config.realm_names
        events = []
        for number, line in enumerate(lines, start=first):
            if not line.strip():
                continue
            try:
                events.append(parse_event(orjson.loads(line), names))
            except orjson.JSONDecodeError as exc:
                intake.reject(Rejection(self.name, f"{self.label}:{number}", f"not JSON: {exc}", line[:200]))
            except MalformedEvent as exc:
                intake.reject(Rejection(self.name, f"{self.label}:{number}", exc.message, line[:200]))
        return events
