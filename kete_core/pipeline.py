"""Running an application: sources → routes → serializers → spool → sinks, on one asyncio loop.

Every batch a source submits goes through four stages before ``submit`` returns: the routes
select their events (:mod:`kete_core.routing`), each serializer writes them once
(:mod:`kete_core.serialization`), the spool stores them with the source's checkpoint in one
transaction (:mod:`kete_core.spool`), and each route's worker is handed its messages
(:mod:`kete_core.delivery`). From then on kete owns them. A slow or dead sink holds up only its
own route until the spool is full, and then slows the sources down (never drops). Stopping
(SIGINT/SIGTERM) stops the sources and drains what was accepted; what cannot be delivered in time
stays in the spool for the next start.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Sequence
from itertools import compress

from kete_core.application import Application
from kete_core.contracts import Message, Receipt, Rejection, Source
from kete_core.delivery import Delivery, Serialized
from kete_core.errors import KeteError
from kete_core.event import Event
from kete_core.hooks import Hooks
from kete_core.observability import Observability
from kete_core.routing import RouteTable, Selection
from kete_core.serialization import serialize
from kete_core.spool import MemorySpool, Spool
from kete_core.status import RouteStats, RunStats, Status

log = logging.getLogger("kete")

# How often the spool is compacted and a status snapshot handed to observability.
_STATUS_INTERVAL = 1.0


class _SourceIntake:
    """The :class:`~kete_core.contracts.Intake` one source sees."""

    def __init__(self, pipeline: Pipeline, source: str) -> None:
        self.pipeline = pipeline
        self.source = source
        self.stopping = pipeline.stopping

    @property
    def congested(self) -> bool:
        return self.pipeline.would_wait

    @property
    def checkpoint(self) -> bytes | None:
        return self.pipeline.spool.checkpoint(self.source)

    async def submit(self, events: Sequence[Event], checkpoint: bytes | None = None) -> Receipt:
        self.pipeline.hooks.after_receive(self.source, events)
        return await self.pipeline.submit(self.source, events, checkpoint)

    def reject(self, rejection: Rejection) -> None:
        self.pipeline.reject(rejection)

    def set_ready(self, ready: bool, reason: str | None = None) -> None:
        self.pipeline.source_status[self.source] = None if ready else (reason or "not ready")


class Pipeline:
    """Moves events through an :class:`~kete_core.application.Application`; see the module
    documentation.

    :param spool: the spool to use; by default the one ``[kete]`` describes.
    :param from_start: forget the sources' saved positions, so that each starts as on its first run.
    """

    def __init__(self, app: Application, spool: Spool | MemorySpool | None = None, *, from_start: bool = False) -> None:
        self.app = app
        self.hooks = Hooks(app.plugins)
        settings = app.config.settings
        names = [route.name for route in app.routes]
        if spool is None:
            if settings.spool == "memory":
                spool = MemorySpool(names)
            else:
                spool = Spool(app.config.data_dir / "spool.sqlite", names, synchronous=settings.spool_sync)
        self.spool: Spool | MemorySpool = spool
        if from_start:
            spool.forget_checkpoints()
        self.stopping = asyncio.Event()
        self.stats = RunStats(routes={name: RouteStats() for name in names})
        self.source_status: dict[str, str | None] = {source.name: None for source in app.sources}
        self.newest_time: dict[str, int] = {}
        self.routing = RouteTable(app.routes, spool.bits)
        self.delivery = Delivery(
            app.routes,
            spool,
            self.hooks,
            self.stats,
            dead_letter_dir=app.config.data_dir / "dead-letters",
            queue_size=settings.queue_size,
            stopping=self.stopping,
        )
        self.observability = Observability()

    # ------------------------------------------------------------------ intake

    def intake(self, source: str) -> _SourceIntake:
        """The intake for the source named *source*."""
        return _SourceIntake(self, source)

    @property
    def congested(self) -> bool:
        """True while the spool is full."""
        return self.spool.depth >= self.app.config.settings.spool_max_events

    async def submit(self, source: str, events: Sequence[Event], checkpoint: bytes | None = None) -> Receipt:
        """Route *events*, serialize them, spool them with *checkpoint* and hand them to the
        routes' workers; see :meth:`~kete_core.contracts.Intake.submit`."""
        await self._room()
        self._received(source, events)
        selection = self.routing.select(events)
        self._matched(selection)
        serialized = self._serialize(selection)
        self.spool.append(selection.events, selection.masks, (source, checkpoint) if checkpoint is not None else None)
        return self.delivery.hand_over(selection, serialized, self.spool.next_seq - 1)

    @property
    def would_wait(self) -> bool:
        """True while :meth:`submit` would wait: the spool is full, or a route that keeps up has its
        in-memory queue full. Answered without waiting, for sources that must answer at once."""
        return self.congested or self.delivery.memory_full()

    async def _room(self) -> None:
        """Wait while :attr:`would_wait`."""
        room = self.delivery.room
        while self.would_wait:
            room.clear()
            await room.wait()

    def _received(self, source: str, events: Sequence[Event]) -> None:
        self.stats.received[source] = self.stats.received.get(source, 0) + len(events)
        if events:
            newest = events[-1].data.get("time")
            if isinstance(newest, int):
                self.newest_time[source] = max(newest, self.newest_time.get(source, 0))

    def _matched(self, selection: Selection) -> None:
        """Count what each route took, and show it to ``kete_after_match``."""
        routes = self.stats.routes
        watching = self.hooks.watches_match
        for route, picks, count in zip(self.routing.routes, selection.picks, selection.counts, strict=True):
            if count:
                routes[route.name].matched += count
                if watching:
                    self.hooks.after_match(route.name, list(compress(selection.events, picks)))

    def _serialize(self, selection: Selection) -> Serialized:
        """Each selected event written once per serializer, however many routes use it, and before
        the spool write, which pushes the events out of the CPU's cache. Routes reading back from
        the spool serialize when they get there."""
        serialized: dict[int, tuple[list[Message | None], bool]] = {}
        for worker, count in zip(self.delivery.workers, selection.counts, strict=True):
            serializer = id(worker.route.serializer)
            if count and not worker.overflowed and serializer not in serialized:
                serialized[serializer] = serialize(worker.route, selection.events, self.hooks)
        return serialized

    def reject(self, rejection: Rejection) -> None:
        """Log, count and keep a record that is not an event."""
        self.stats.rejected[rejection.source] = self.stats.rejected.get(rejection.source, 0) + 1
        log.warning("source '%s': %s: rejected: %s", rejection.source, rejection.where, rejection.reason)
        self.spool.reject(rejection)
        self.hooks.event_rejected(rejection)

    def request_stop(self) -> None:
        """First call: stop the sources and deliver what was accepted. Second call: stop delivering
        too; what is left stays in the spool for the next start."""
        if not self.stopping.is_set():
            log.info("stopping: sources stop reading, accepted events are delivered (again to stop at once)")
            self.stopping.set()
        elif not self.delivery.aborting.is_set():
            log.warning("stopping at once: undelivered events stay in the spool for the next start")
            self.delivery.abort()

    # ------------------------------------------------------------------ status

    def status(self) -> Status:
        """The pipeline's state now, for :class:`~kete_core.observability.Observability`."""
        depth = self.spool.depth
        not_ready = {f"source {name}": reason for name, reason in self.source_status.items() if reason}
        now_ms = time.time() * 1000
        return Status(
            stats=self.stats.copy(),
            sinks={route.name: route.sink_kind for route in self.app.routes},
            sources=list(self.source_status),
            not_ready=not_ready | self.delivery.not_ready(),
            spool_depth=depth,
            oldest_age=self.spool.oldest_age() if depth else 0.0,
            source_lag={name: max(0.0, (now_ms - ms) / 1000) for name, ms in self.newest_time.items()},
            latencies=self.delivery.drain_latencies(),
        )

    # ------------------------------------------------------------------ run

    async def run(self) -> RunStats:
        """Run every source to its end (or until stopped), deliver everything accepted, close."""
        loop = asyncio.get_running_loop()
        handled = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, self.request_stop)
                handled.append(signum)
            except (NotImplementedError, RuntimeError):  # not the main thread
                pass
        metrics = self.app.config.settings.metrics
        if metrics.enabled:
            self.observability.start(metrics.address)
        housekeeping = asyncio.create_task(self._keep_house())
        try:
            await self.hooks.startup(self.app)
            await self.delivery.start()
            await asyncio.gather(*(self._run_source(source) for source in self.app.sources))
            await self.delivery.finish()
        finally:
            housekeeping.cancel()
            for signum in handled:
                loop.remove_signal_handler(signum)
            self.spool.compact()
            self.stats.left_in_spool = self.spool.depth
            self.spool.forget_rejected(self.app.config.settings.retention)
            self.spool.close()
            self.observability.stop()
            await self.hooks.shutdown(self.app)
        return self.stats

    async def _keep_house(self) -> None:
        while True:
            self.observability.update(self.status())
            await asyncio.sleep(_STATUS_INTERVAL)
            self.spool.compact()

    async def _run_source(self, source: Source) -> None:
        try:
            await source.run(self.intake(source.name))
        except KeteError as exc:
            self.stats.source_errors += 1
            self.source_status[source.name] = str(exc.message)
            log.error("source '%s': %s", source.name, exc)
        except Exception as exc:
            self.stats.source_errors += 1
            self.source_status[source.name] = f"{type(exc).__name__}: {exc}"
            log.exception("source '%s' failed", source.name)
        finally:
            try:
                await source.close()
            except Exception:
                log.exception("source '%s' failed to close", source.name)
