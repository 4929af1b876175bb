"""``[sources.<name>] kind = "file"``: Keycloak events as JSON lines, from a file or stdin.

By default the source replays its input to the end and returns, and ``kete run`` exits once all
of it is delivered; with ``follow = true`` it keeps reading what is appended, like ``tail -f``.
Lines that are not events are reported with their line number and skipped. On a terminal, a long
replay shows a progress bar.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import IO, Literal

import orjson
from pydantic import Field

from kete_core.contracts import ComponentConfig, Intake, Rejection, Source
from kete_core.errors import MalformedEvent, SourceError
from kete_core.event import Event, parse_event
from kete_core.policy import Duration
from kete_core.progress import Progress

_CHUNK = 1 << 20


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
    batch_size: int = Field(default=1000, gt=0)
    """Events submitted at once (fewer when less input is waiting)."""
    realm_names: dict[str, str] = {}
    """Realm id → realm name, for events that carry only ``realmId``."""


class FileSource(Source):
    """Reads JSON lines; see the module documentation."""

    Config = FileSourceConfig
    config: FileSourceConfig

    def __init__(self, name: str, config: FileSourceConfig) -> None:
        super().__init__(name, config)
        self.label = "<stdin>" if config.path == "-" else config.path
        self.line_number = 0

    async def run(self, intake: Intake) -> None:
        if self.config.path == "-":
            await self._read(sys.stdin.buffer, intake, stdin=True)
            return
        try:
            stream = Path(self.config.path).open("rb")  # noqa: SIM115  (closed below, across awaits)
        except OSError as exc:
            raise SourceError(f"cannot open input: {exc.strerror}", path=self.label) from exc
        with stream:
            if self.config.follow and self.config.start_at == "end":
                stream.seek(0, 2)
            await self._read(stream, intake, stdin=False)

    async def _read(self, stream: IO[bytes], intake: Intake, *, stdin: bool) -> None:
        total = None if stdin or self.config.follow else Path(self.config.path).stat().st_size
        with Progress(f"source {self.name}", total) as progress:
            remainder = b""
            while not intake.stopping.is_set():
                chunk = await asyncio.to_thread(stream.read1, _CHUNK) if stdin else stream.read(_CHUNK)  # type: ignore[attr-defined]
                if not chunk:
                    if not self.config.follow:
                        break
                    await self._wait(intake)
                    continue
                progress.advance(len(chunk))
                lines = (remainder + chunk).split(b"\n")
                remainder = lines.pop()
                await self._submit_lines(lines, intake)
            if remainder.strip() and not intake.stopping.is_set():
                await self._submit_lines([remainder], intake)

    async def _wait(self, intake: Intake) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(intake.stopping.wait(), timeout=self.config.poll_interval)

    async def _submit_lines(self, lines: list[bytes], intake: Intake) -> None:
        batch: list[Event] = []
        names = self.config.realm_names
        for line in lines:
            self.line_number += 1
            if not line.strip():
                continue
            try:
                batch.append(parse_event(orjson.loads(line), names))
            except orjson.JSONDecodeError as exc:
                intake.reject(Rejection(self.name, f"{self.label}:{self.line_number}", f"not JSON: {exc}", line[:200]))
            except MalformedEvent as exc:
                intake.reject(Rejection(self.name, f"{self.label}:{self.line_number}", exc.message, line[:200]))
            if len(batch) >= self.config.batch_size:
                await intake.submit(batch)
                batch = []
        if batch:
            await intake.submit(batch)
