"""An in-memory source and sink for tests, usable as ``kind = "memory"`` inside :func:`memory_kinds`.

They are registered for the length of a test only (never through entry points, so ``kete
plugins`` does not list them)::

    with memory_kinds():
        app = load_app(config_path)          # [sources.in] kind = "memory", destination.kind = "memory"
        app.sources[0].put({"type": "LOGIN", "realmName": "acme"})
        run_app(app)
        assert [m.event.event_type for m in app.routes[0].sink.messages] == ["LOGIN"]

Records and deliveries can also live in named stores (``store = "name"``) that outlive one
application, so a test can stop kete, start a new one on the same data dir and see what the second
run delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import orjson
from pydantic import Field

from kete_core.contracts import ComponentConfig, DeliveryResults, Intake, Message, Rejection, Sink, SinkContext, Source
from kete_core.discovery import GROUPS, REGISTERED
from kete_core.errors import MalformedEvent, PermanentError, PluginInfo, Unavailable
from kete_core.event import Event, parse_event


class MemorySourceConfig(ComponentConfig):
    """Settings of the in-memory source."""

    events: list[Any] = []
    """Records to submit: event objects, or JSON text (which may be malformed on purpose)."""
    store: str | None = None
    """Read the records of :attr:`MemorySource.stores` ``[store]`` (shared by every source naming it)."""
    follow: bool = False
    """Keep waiting for records given to :meth:`MemorySource.put` until kete stops."""
    batch_size: int = Field(default=100, gt=0)


class MemorySource(Source):
    """Submits its records in batches, with the index of the next record as checkpoint, so a
    restarted kete resumes after the last accepted batch. Records that are not events are rejected
    with their index (``memory:<n>``) and the reason."""

    Config = MemorySourceConfig
    config: MemorySourceConfig
    stores: ClassVar[dict[str, list[Any]]] = {}

    def __init__(self, name: str, config: MemorySourceConfig) -> None:
        super().__init__(name, config)
        if config.store is None:
            self.records: list[Any] = list(config.events)
        else:
            self.records = self.stores.setdefault(config.store, [])
            self.records.extend(config.events)
        self._more = asyncio.Event()

    def put(self, *records: Any) -> None:
        """Add records to submit (while running, with ``follow``)."""
        self.records.extend(records)
        self._more.set()

    async def run(self, intake: Intake) -> None:
        position = int(intake.checkpoint or b"0")
        size = self.config.batch_size
        while not intake.stopping.is_set():
            if position >= len(self.records):
                if not self.config.follow:
                    return
                self._more.clear()
                stop = asyncio.ensure_future(intake.stopping.wait())
                more = asyncio.ensure_future(self._more.wait())
                await asyncio.wait([stop, more], timeout=0.05, return_when=asyncio.FIRST_COMPLETED)
                stop.cancel()
                more.cancel()
                continue
            batch = self.records[position : position + size]
            events = [
                event
                for offset, record in enumerate(batch)
                if (event := self._parse(record, position + offset, intake))
            ]
            position += len(batch)
            await intake.submit(events, str(position).encode())

    def _parse(self, record: Any, index: int, intake: Intake) -> Event | None:
        try:
            # Through JSON and back, as any source's input: what JSON cannot hold is rejected.
            return parse_event(orjson.loads(record if isinstance(record, str | bytes) else orjson.dumps(record)))
        except (orjson.JSONDecodeError, orjson.JSONEncodeError) as exc:
            reason = f"not JSON: {exc}"
        except MalformedEvent as exc:
            reason = exc.message
        raw = record if isinstance(record, bytes) else str(record).encode(errors="replace")
        intake.reject(Rejection(self.name, f"memory:{index}", reason, raw[:200]))
        return None


class MemorySinkConfig(ComponentConfig):
    """Settings of the in-memory sink."""

    store: str | None = None
    """Also keep the delivered messages in :attr:`MemorySink.stores` ``[store]``."""
    fail_realms: list[str] = []
    """Events of these realms fail with a :class:`~kete_core.PermanentError` (poison events)."""
    unavailable: bool = False
    """Every send raises :class:`~kete_core.errors.Unavailable`, as an unreachable destination does."""


class MemorySink(Sink):
    """Keeps every delivered message in :attr:`messages` (and its store), in order."""

    Config = MemorySinkConfig
    config: MemorySinkConfig
    stores: ClassVar[dict[str, list[Message]]] = {}

    def __init__(self, config: MemorySinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        self.messages: list[Message] = self.stores.setdefault(config.store, []) if config.store else []
        self.starts = 0
        self.closes = 0

    async def start(self) -> None:
        self.starts += 1

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        if self.config.unavailable:
            raise Unavailable("the memory sink was configured as unavailable")
        results: list[BaseException | None] = []
        for message in messages:
            if message.event.realm in self.config.fail_realms:
                results.append(PermanentError(f"realm {message.event.realm!r} is configured to fail"))
            else:
                self.messages.append(message)
                results.append(None)
        return results

    async def close(self) -> None:
        self.closes += 1


@contextlib.contextmanager
def registered(kind: str, name: str, cls: type[Any]) -> Iterator[None]:
    """Make *cls* the component type ``name`` of *kind* (``"sink"``, ``"source"``, …) while the
    block runs, without an entry point."""
    key = (kind, name)
    previous = REGISTERED.get(key)
    info = PluginInfo(group=GROUPS[kind], name=name, value=f"{cls.__module__}:{cls.__qualname__}")
    REGISTERED[key] = (cls, info)
    try:
        yield
    finally:
        if previous is None:
            REGISTERED.pop(key, None)
        else:
            REGISTERED[key] = previous


@contextlib.contextmanager
def memory_kinds() -> Iterator[None]:
    """The in-memory source and sink as ``kind = "memory"`` while the block runs; their stores
    are emptied afterwards."""
    with registered("source", "memory", MemorySource), registered("sink", "memory", MemorySink):
        try:
            yield
        finally:
            MemorySource.stores.clear()
            MemorySink.stores.clear()


def delivered(sink: Sink | Sequence[Message]) -> list[dict[str, Any]]:
    """The events a memory sink (or a list of messages) received, as decoded JSON payloads."""
    messages = sink.messages if isinstance(sink, MemorySink) else sink
    return [orjson.loads(message.payload) for message in messages]  # type: ignore[union-attr]


__all__ = [
    "MemorySink",
    "MemorySinkConfig",
    "MemorySource",
    "MemorySourceConfig",
    "delivered",
    "memory_kinds",
    "registered",
]
