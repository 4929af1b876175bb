"""``destination.kind = "file"``: one serialized event per line, or per length-prefixed record; see the
README for settings."""

from __future__ import annotations

import asyncio
import logging
import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

from kete_core import ConfigError, DeliveryResults, Message, PermanentError, Sink, SinkContext
from kete_file.settings import FileSinkConfig

log = logging.getLogger("kete.file")
LENGTH_BYTES = 4  # length-prefixed framing: an unsigned 32-bit big-endian length before each payload


def frame(payload: bytes) -> bytes:
    """*payload* as one length-prefixed record."""
    return len(payload).to_bytes(LENGTH_BYTES) + payload


def read_records(data: bytes) -> list[bytes]:
    """The payloads of length-prefixed *data* (a file the sink wrote with ``framing =
    "length-prefixed"``); ``ValueError`` when it ends inside a record."""
    payloads = []
    at = 0
    while at < len(data):
        end = at + LENGTH_BYTES + int.from_bytes(data[at : at + LENGTH_BYTES])
        if end > len(data):
            raise ValueError(f"the data ends inside the record at byte {at}")
        payloads.append(data[at + LENGTH_BYTES : end])
        at = end
    return payloads


class _OpenFile:
    def __init__(self, path: Path, *, framed: bool) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        self.size = os.fstat(self.fd).st_size
        if self.size:
            try:
                if framed:
                    self._repair_records()
                else:
                    self._repair()
            except BaseException:
                self.close()
                raise

    def _repair_records(self) -> None:
        """Cut a partial last record, left by a crash in the middle of a write (its event was not
        acknowledged, so it is delivered again); refuse a file that does not start with a whole record
        (a file of lines, say), rather than cut it."""
        end = 0
        while end + LENGTH_BYTES <= self.size:
            length = int.from_bytes(os.pread(self.fd, LENGTH_BYTES, end))
            if end + LENGTH_BYTES + length > self.size:
                break
            end += LENGTH_BYTES + length
        if end == self.size:
            return
        if end == 0:
            raise ValueError(f"{self.path} holds no length-prefixed record; kete appends records only to such files")
        log.warning(
            "%s: cut a partial last record of %d bytes left by an interrupted write", self.path, self.size - end
        )
        os.ftruncate(self.fd, end)
        self.size = end

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
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class FileSink(Sink):
    """Appends each message's payload and a newline (or its length first, ``framing =
    "length-prefixed"``) to the file its rendered ``path`` names."""

    Config = FileSinkConfig
    config: FileSinkConfig

    def __init__(self, config: FileSinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        self._framed = config.framing == "length-prefixed"
        if not self._framed and context.serializer.binary:
            named = f" ({context.serializer_kind})" if context.serializer_kind else ""
            raise ConfigError(
                f"the serializer{named} writes binary payloads, which lines cannot hold",
                path=f"{context.path}.framing",
                hint='set framing = "length-prefixed" (each payload after its length, 4 bytes big-endian)',
            )
        self.path = context.address("path", config.path)
        segments = config.path.split("/")
        self._segments = len(segments)
        # The segments a variable renders; a literal ".." the operator wrote is theirs to write.
        self._variable_segments = [index for index, segment in enumerate(segments) if "${" in segment]
        self._files: OrderedDict[str, _OpenFile] = OrderedDict()
        self._checked: dict[str, PermanentError | None] = {}

    def _check(self, rendered: str) -> PermanentError | None:
        problem = self._checked.get(rendered, False)
        if problem is False:
            problem = self._problem(rendered)
            if len(self._checked) < 10_000:
                self._checked[rendered] = problem
        return problem

    def _problem(self, rendered: str) -> PermanentError | None:
        """Why *rendered* may not be written: an event value that adds, removes or climbs path
        segments, or that no file name can hold."""
        if "\0" in rendered:
            return PermanentError(f"rendered path {rendered!r} contains a NUL byte")
        segments = rendered.split("/")
        if len(segments) != self._segments or any(
            segments[index] in ("", ".", "..") for index in self._variable_segments
        ):
            return PermanentError(f"rendered path {rendered!r} adds path segments to {self.config.path!r}")
        return None

    def _file(self, rendered: str) -> _OpenFile:
        handle = self._files.get(rendered)
        if handle is None:
            if len(self._files) >= self.config.max_open_files:
                self._files.popitem(last=False)[1].close()
            handle = self._files[rendered] = _OpenFile(Path(rendered), framed=self._framed)
        else:
            self._files.move_to_end(rendered)
        return handle

    def _rotate(self, handle: _OpenFile) -> _OpenFile:
        path = handle.path
        # Forgotten first: when a rename below fails, the next write opens the file again.
        self._files.pop(str(path), None)
        handle.close()
        if self.config.backups == 0:
            path.unlink(missing_ok=True)
        for number in range(self.config.backups - 1, 0, -1):
            older = path.with_name(f"{path.name}.{number}")
            if older.exists():
                older.replace(path.with_name(f"{path.name}.{number + 1}"))
        if self.config.backups:
            path.replace(path.with_name(f"{path.name}.1"))
        fresh = self._files[str(path)] = _OpenFile(path, framed=self._framed)
        return fresh

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        results: list[BaseException | None] = [None] * len(messages)
        grouped: dict[str, list[bytes]] = {}
        paths = self.path.render_all([message.event for message in messages])
        for index, (message, rendered) in enumerate(zip(messages, paths, strict=True)):
            if isinstance(rendered, PermanentError):  # a variable of the path has no value for this event
                results[index] = rendered
                continue
            problem = self._check(rendered)
            if problem is None and not self._framed and b"\n" in message.payload:
                problem = PermanentError(
                    'the payload contains a newline, and framing = "lines" writes one event per line '
                    '(framing = "length-prefixed" writes any payload)'
                )
            if problem is not None:
                results[index] = problem
            else:
                grouped.setdefault(rendered, []).append(message.payload)
        written: list[_OpenFile] = []
        for rendered, payloads in grouped.items():
            count, handle, error = self._write(rendered, payloads)
            if handle is not None:
                written.append(handle)
            if error is not None:
                # Only this path's events that were not written fail: the others are not written again.
                failing = [index for index, path in enumerate(paths) if results[index] is None and path == rendered]
                for index in failing[count:]:
                    results[index] = error
        if self.config.fsync == "batch" and written:
            await asyncio.to_thread(lambda: [os.fsync(handle.fd) for handle in written])
        return None if not any(results) else results

    def _write(self, rendered: str, payloads: list[bytes]) -> tuple[int, _OpenFile | None, Exception | None]:
        """Append *payloads* to *rendered*: how many were written, the file, and the error that
        stopped the rest (OSError is retried; anything else is permanent)."""
        handle: _OpenFile | None = None
        written = 0
        try:
            handle = self._file(rendered)
            limit = self.config.max_bytes
            if limit is None:
                handle.write(b"".join(map(frame, payloads)) if self._framed else b"\n".join(payloads) + b"\n")
                return len(payloads), handle, None
            for payload in payloads:
                record = frame(payload) if self._framed else payload + b"\n"
                if handle.size and handle.size + len(record) > limit:
                    handle = self._rotate(handle)
                handle.write(record)
                written += 1
        except OSError as exc:
            return written, handle, exc
        except Exception as exc:
            error = PermanentError(f"cannot write {rendered!r}: {type(exc).__name__}: {exc}")
            return written, handle, error.with_traceback(exc.__traceback__)
        return written, handle, None

    async def close(self) -> None:
        while self._files:
            handle = self._files.popitem()[1]
            if self.config.fsync == "batch":
                os.fsync(handle.fd)
            handle.close()
