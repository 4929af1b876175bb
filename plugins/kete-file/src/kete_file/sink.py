"""``destination.kind = "file"``: one serialized event per line; see the README for settings."""

from __future__ import annotations

import asyncio
import logging
import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

from kete_core import DeliveryResults, Message, PermanentError, Sink, SinkContext
from kete_file.settings import FileSinkConfig

log = logging.getLogger("kete.file")


class _OpenFile:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        self.size = os.fstat(self.fd).st_size
        if self.size:
            self._repair()

    def _repair(self) -> None:
        """Cut a partial last line, left by a crash in the middle of a write: the event on it was
        not acknowledged, so it is delivered again."""
        if os.pread(self.fd, 1, self.size - 1) == b"\n":
            return
        end = self.size
        while end > 0:
            start = max(0, end - 65536)
            block = os.pread(self.fd, end - start, start)
            newline = block.rfind(b"\n")
            if newline != -1:
                end = start + newline + 1
                break
            end = start
        log.warning("%s: cut a partial last line of %d bytes left by an interrupted write", self.path, self.size - end)
        os.ftruncate(self.fd, end)
        self.size = end

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]
        self.size += len(data)

    def close(self) -> None:
        os.close(self.fd)


class FileSink(Sink):
    """Appends each message's payload and a newline to the file its rendered ``path`` names."""

    Config = FileSinkConfig
    config: FileSinkConfig

    def __init__(self, config: FileSinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        self.path = context.template("path", config.path)
        self._segments = len(Path(config.path).parts)
        self._climbs = ".." in Path(config.path).parts
        self._files: OrderedDict[str, _OpenFile] = OrderedDict()
        self._checked: dict[str, PermanentError | None] = {}

    def _check(self, rendered: str) -> PermanentError | None:
        problem = self._checked.get(rendered, False)
        if problem is False:
            parts = Path(rendered).parts
            problem = None
            if len(parts) != self._segments or (".." in parts and not self._climbs):
                problem = PermanentError(f"rendered path {rendered!r} adds path segments to {self.config.path!r}")
            if len(self._checked) < 10_000:
                self._checked[rendered] = problem
        return problem

    def _file(self, rendered: str) -> _OpenFile:
        handle = self._files.get(rendered)
        if handle is None:
            if len(self._files) >= self.config.max_open_files:
                self._files.popitem(last=False)[1].close()
            handle = self._files[rendered] = _OpenFile(Path(rendered))
        else:
            self._files.move_to_end(rendered)
        return handle

    def _rotate(self, handle: _OpenFile) -> _OpenFile:
        handle.close()
        path = handle.path
        if self.config.backups == 0:
            path.unlink(missing_ok=True)
        for number in range(self.config.backups - 1, 0, -1):
            older = path.with_name(f"{path.name}.{number}")
            if older.exists():
                older.replace(path.with_name(f"{path.name}.{number + 1}"))
        if self.config.backups:
            path.replace(path.with_name(f"{path.name}.1"))
        fresh = self._files[str(path)] = _OpenFile(path)
        return fresh

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        results: list[BaseException | None] = [None] * len(messages)
        grouped: dict[str, list[bytes]] = {}
        paths = self.path.render_all([message.event for message in messages])
        for index, (message, rendered) in enumerate(zip(messages, paths, strict=True)):
            problem = self._check(rendered)
            if problem is None and b"\n" in message.payload:
                problem = PermanentError("the payload contains a newline; the file sink writes one event per line")
            if problem is not None:
                results[index] = problem
            else:
                grouped.setdefault(rendered, []).append(message.payload)
        written: list[_OpenFile] = []
        for rendered, payloads in grouped.items():
            try:
                written.append(self._write(rendered, payloads))
            except OSError as exc:
                for index, path in enumerate(paths):
                    if results[index] is None and path == rendered:
                        results[index] = exc
        if self.config.fsync == "batch" and written:
            await asyncio.to_thread(lambda: [os.fsync(handle.fd) for handle in written])
        return None if not any(results) else results

    def _write(self, rendered: str, payloads: list[bytes]) -> _OpenFile:
        handle = self._file(rendered)
        limit = self.config.max_bytes
        if limit is None:
            handle.write(b"\n".join(payloads) + b"\n")
            return handle
        for payload in payloads:
            if handle.size and handle.size + len(payload) + 1 > limit:
                handle = self._rotate(handle)
            handle.write(payload + b"\n")
        return handle

    async def close(self) -> None:
        while self._files:
            handle = self._files.popitem()[1]
            if self.config.fsync == "batch":
                os.fsync(handle.fd)
            handle.close()
