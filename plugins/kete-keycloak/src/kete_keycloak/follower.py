"""``[sources.<name>] kind = "keycloak-log"``: follow Keycloak's log file and route the events it logs.

Keycloak's built-in ``jboss-logging`` event listener logs every user and admin event, including
types the database does not store by default (``REFRESH_TOKEN`` …), and needs no event store at
all. This source tails the log file with kete's :class:`~kete_core.lines.LineReader`, reads the
records of the ``org.keycloak.events`` logger (plain or JSON lines, see
:mod:`kete_keycloak.logparse`) and skips every other line.

The checkpoint is the reader's position: the file's device and inode and the offset after the last
line read. A restart continues there; if the file was rotated meanwhile, the rest of the old file
is found among the rotated files (``rotated``, by inode) and read first. Rotation while running
(rename and a new file) and truncation (``copytruncate``) are followed as they happen.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import logging
import time
from pathlib import Path

from kete_core import (
    Chunk,
    Event,
    Intake,
    LineReader,
    MalformedEvent,
    Position,
    Rejection,
    Source,
    SourceError,
    end_position,
)
from kete_keycloak.logparse import BadRecord, LineParser, NotAnEventRecord
from kete_keycloak.settings import LogSourceConfig

log = logging.getLogger("kete.keycloak")

_COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".zip", ".lz4")
# A position is saved at most this often when nothing but other log lines went by.
_IDLE_SAVE = 1.0


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


class LogSource(Source):
    """Follows a Keycloak log file; see the module documentation."""

    Config = LogSourceConfig
    config: LogSourceConfig

    def __init__(self, name: str, config: LogSourceConfig) -> None:
        super().__init__(name, config)
        self.parser = LineParser(
            config.format,
            timezone=config.timezone,
            logger=config.logger,
            pattern=config.plain_pattern,
            time_format=config.time_format,
            admin_realm=config.admin_event_realm,
        )
        self.path = Path(config.path)
        self._position: Position | None = None
        self._saved_at = 0.0
        self._new_file = False

    async def run(self, intake: Intake) -> None:
        try:
            self._position = Position.decode(intake.checkpoint)
        except (ValueError, TypeError) as exc:
            raise SourceError(
                f"cannot resume: the saved position is not a log position ({exc})",
                path=f"sources.{self.name}",
                hint="a source's name keeps its position; give a new source a new name",
            ) from exc
        while not intake.stopping.is_set():
            if not await self._wait_for_file(intake):
                return
            try:
                await self._follow(intake)
                return
            except FileNotFoundError:
                # Rotated between a look and an open: look again from the last position.
                with contextlib.suppress(TimeoutError):
                    await _wait(intake, self.config.poll_interval)
            except OSError as exc:
                raise SourceError(f"cannot read the log: {exc.strerror or exc}", path=str(self.path)) from exc

    async def _wait_for_file(self, intake: Intake) -> bool:
        waiting = False
        while not self.path.is_file():
            if not waiting:
                waiting = True
                # A file that appears while kete waits is new: all of it is unread.
                self._new_file = True
                log.warning("source '%s': waiting for %s to appear", self.name, self.path)
                intake.set_ready(False, f"{self.path} does not exist (yet)")
            with contextlib.suppress(TimeoutError):
                await _wait(intake, 1.0)
            if intake.stopping.is_set():
                return False
        intake.set_ready(True)
        return True

    async def _follow(self, intake: Intake) -> None:
        position = self._position
        if position is None and self.config.start_at == "end" and not self._new_file:
            position = end_position(self.path)
            await self._save(intake, position)
        elif position is not None and _identity(self.path) != (position.device, position.inode):
            await self._catch_up(intake, position)
            if intake.stopping.is_set():
                return
            position = None
        reader = LineReader(self.path, follow=True, poll_interval=self.config.poll_interval)
        async for chunk in reader.chunks(intake.stopping, position):
            if reader.restarted:
                log.warning("source '%s': %s", self.name, reader.restarted)
                reader.restarted = None
            await self._submit(intake, chunk, self.path)

    def _rotated_files(self) -> list[Path]:
        pattern = self.config.rotated or f"{glob.escape(str(self.path))}.*"
        files = []
        for name in glob.glob(pattern):  # noqa: PTH207  (Path.glob takes no absolute patterns)
            path = Path(name)
            if path != self.path and not name.endswith(_COMPRESSED) and path.is_file():
                files.append(path)
        return files

    async def _catch_up(self, intake: Intake, position: Position) -> None:
        """Finish the file read before (now a rotated file), then newer rotated files, oldest first."""
        files = self._rotated_files()
        ours = next((path for path in files if _identity(path) == (position.device, position.inode)), None)
        if ours is None:
            log.warning(
                "source '%s': %s is not the file read before, which is not among the rotated files either: "
                "reading %s from its start; lines logged to the old file after the last read are lost",
                self.name,
                self.path,
                self.path,
            )
            return
        since = ours.stat().st_mtime
        newer = sorted(
            (path for path in files if path != ours and path.stat().st_mtime >= since),
            key=lambda path: (path.stat().st_mtime, str(path)),
        )
        log.info(
            "source '%s': %s was rotated: reading the rest of %s%s first",
            self.name,
            self.path,
            ours,
            f" and {', '.join(map(str, newer))}" if newer else "",
        )
        for path, start in [(ours, position), *((path, None) for path in newer)]:
            reader = LineReader(path, follow=False, poll_interval=self.config.poll_interval)
            async for chunk in reader.chunks(intake.stopping, start):
                await self._submit(intake, chunk, path)
            if intake.stopping.is_set():
                return

    async def _submit(self, intake: Intake, chunk: Chunk, path: Path) -> None:
        events: list[Event] = []
        rejected = False
        offset = chunk.start.offset
        parse = self.parser.parse
        lines = chunk.lines
        chunk.count = len(lines)  # known now: the end position needs no second scan of the text
        end = chunk.position
        for number, line in enumerate(lines, start=chunk.first_line):
            try:
                events.append(Event(parse(line)))
            except NotAnEventRecord:
                pass
            except (BadRecord, MalformedEvent) as exc:
                rejected = True
                reason = exc.message if isinstance(exc, MalformedEvent) else str(exc)
                intake.reject(Rejection(self.name, f"{path}, byte {max(0, offset)}", reason, line[:200]))
            offset += len(line) + 1
            if len(events) >= self.config.batch_size:
                # Each batch carries the position after its last line, so a crash repeats nothing.
                at = Position(end.device, end.inode, min(offset, end.offset), number)
                await intake.submit(events, at.encode())
                events = []
        if events or rejected or time.monotonic() - self._saved_at >= _IDLE_SAVE:
            await intake.submit(events, end.encode())
            self._saved_at = time.monotonic()
        self._position = end

    async def _save(self, intake: Intake, position: Position) -> None:
        await intake.submit([], position.encode())
        self._saved_at = time.monotonic()
        self._position = position


async def _wait(intake: Intake, seconds: float) -> None:
    await asyncio.wait_for(intake.stopping.wait(), timeout=seconds)
