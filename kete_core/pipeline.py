"""Running an application: sources → spool → routes → serializers → sinks, on one asyncio loop.

Every batch a source submits is routed and written to the spool (with the source's checkpoint,
in one transaction) before ``submit`` returns: from then on kete owns it. Each route has one
worker that delivers in spool order, retries, waits out unreachable destinations and
dead-letters what cannot be delivered; its progress is its *done* mark in the spool. Recent
batches are handed to workers in memory; a route that falls behind reads back from the spool,
so a slow or dead sink holds up only its own route until the spool is full, and then slows the
sources down (never drops). Stopping (SIGINT/SIGTERM) stops the sources and drains what was
accepted; what cannot be delivered in time stays in the spool for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import attrgetter

from kete_core import deadletters
from kete_core.assembly import Application
from kete_core.contracts import DeliveryResults, Message, Receipt, Rejection, Source
from kete_core.errors import KeteError, PermanentError, Unavailable
from kete_core.event import Event
from kete_core.memo import Memo
from kete_core.observability import Observability
from kete_core.policy import ErrorAction
from kete_core.routing import Route
from kete_core.spool import MemorySpool, Spool

log = logging.getLogger("kete")

_COMPACT_INTERVAL = 1.0
_ROUTING_KEY = attrgetter("realm", "event_type")
# The most messages handed to a sink at once: queued batches are joined up to this, and a route
# reading back from the spool reads about this many.
_BATCH_LIMIT = 5000
# Done marks are saved at most this often: a kill -9 re-delivers what was delivered since.
_MARK_INTERVAL = 0.1


@dataclass
class RouteStats:
    """Counters of one route."""

    matched: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    dead_lettered: int = 0


@dataclass
class RunStats:
    """Counters of one run, reported when it ends and exported as metrics."""

    received: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    source_errors: int = 0
    routes: dict[str, RouteStats] = field(default_factory=dict)
    left_in_spool: int = 0

    @property
    def failed(self) -> int:
        """Events some route could not deliver: dead-lettered, or failed to serialize."""
        return sum(route.failed for route in self.routes.values())


def _wait(backoff: float, errors: Sequence[BaseException]) -> float:
    """The backoff, or longer when a destination asked for it (an HTTP ``Retry-After`` carried by
    the error as ``retry_after`` seconds)."""
    asked = [getattr(error, "retry_after", None) for error in errors]
    return max([backoff, *(seconds for seconds in asked if isinstance(seconds, int | float))])


@dataclass
class _Batch:
    messages: list[Message]
    upto: int
    accepted: float


class _Runner:
    """The state of one route's worker."""

    def __init__(self, route: Route, done: int) -> None:
        self.route = route
        self.queue: deque[_Batch] = deque()
        self.wakeup = asyncio.Event()
        self.overflowed = False
        self.busy = False
        self.loaded = done
        self.waiters: deque[tuple[int, Receipt]] = deque()
        self.started = False
        self.unavailable: str | None = None
        self.retrying = False
        self.bit = 0
        # bytes.translate table: route mask (one byte) → 1 when this route's bit is set, else 0.
        self.pick_table = b""

    @property
    def stalled(self) -> bool:
        """True while the destination is down or a batch is waiting to be retried."""
        return self.unavailable is not None or self.retrying

    @property
    def idle(self) -> bool:
        return not (self.queue or self.overflowed or self.busy)


class _SourceIntake:
    """The :class:`~kete_core.contracts.Intake` one source sees."""

    def __init__(self, pipeline: Pipeline, source: str) -> None:
        self.pipeline = pipeline
        self.source = source
        self.stopping = pipeline.stopping

    @property
    def congested(self) -> bool:
        return self.pipeline.congested

    @property
    def checkpoint(self) -> bytes | None:
        return self.pipeline.spool.checkpoint(self.source)

    async def submit(self, events: Sequence[Event], checkpoint: bytes | None = None) -> Receipt:
        self.pipeline.app.hooks.after_receive(self.source, events)
        return await self.pipeline.submit(self.source, events, checkpoint)

    def reject(self, rejection: Rejection) -> None:
        self.pipeline.reject(rejection)

    def set_ready(self, ready: bool, reason: str | None = None) -> None:
        self.pipeline.source_status[self.source] = None if ready else (reason or "not ready")


class Pipeline:
    """Moves events through an :class:`Application`; see the module documentation.

    :param spool: the spool to use; by default the one ``[kete]`` describes.
    :param from_start: forget the sources' saved positions, so that each starts as on its first run.
    """

    def __init__(self, app: Application, spool: Spool | MemorySpool | None = None, *, from_start: bool = False) -> None:
        self.app = app
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
        self.dead_letter_dir = app.config.data_dir / "dead-letters"
        self.stopping = asyncio.Event()
        self.aborting = asyncio.Event()
        self.finishing = False
        self.stats = RunStats(routes={name: RouteStats() for name in names})
        self.source_status: dict[str, str | None] = {source.name: None for source in app.sources}
        self.runners = [_Runner(route, spool.done[route.name]) for route in app.routes]
        self.by_name = {runner.route.name: runner for runner in self.runners}
        for runner in self.runners:
            runner.bit = 1 << spool.bits[runner.route.name]
            runner.pick_table = bytes(1 if mask & runner.bit else 0 for mask in range(256))
        # Up to 8 routes, a batch's masks fit in one bytes object, and each route's selection is
        # one bytes.translate instead of a call per event.
        self._packed = all(runner.bit < 256 for runner in self.runners)
        # Route masks by (realm, event type): a batch's masks are one C-level map over it.
        self._masks_by_key: Memo[tuple[str, str], int] = Memo(self._choose)
        last = spool.next_seq - 1
        for runner in self.runners:
            runner.overflowed = runner.loaded < last
        self._room = asyncio.Event()
        self._marks_saved = 0.0
        self._queue_size = settings.queue_size
        self._batch_limit = _BATCH_LIMIT
        self._latencies: list[tuple[str, float, int]] = []
        self.newest_time: dict[str, int] = {}
        self.observability = Observability(self)

    # ------------------------------------------------------------------ intake

    def intake(self, source: str) -> _SourceIntake:
        """The intake for the source named *source*."""
        return _SourceIntake(self, source)

    @property
    def congested(self) -> bool:
        """True while the spool is full."""
        return self.spool.depth >= self.app.config.settings.spool_max_events

    def _memory_full(self) -> bool:
        """True while a route that is making progress has its in-memory queue full: the source
        waits for it rather than push batches it would read back from the spool. A stalled route
        (destination down, retrying) never holds the others up: it overflows to the spool."""
        size = self._queue_size
        return any(len(runner.queue) >= size and not runner.stalled for runner in self.runners)

    def _masks(self, events: Sequence[Event]) -> list[int]:
        """Each event's route mask: the spool bits of the routes that take it."""
        return list(map(self._masks_by_key.__getitem__, map(_ROUTING_KEY, events)))

    def _picks(self, runner: _Runner, masks: list[int], packed: bytes | None) -> bytes:
        """One byte per event of *masks* (*packed*: the same as bytes, when every mask fits in a
        byte): 1 where *runner*'s route takes the event, else 0."""
        if packed is not None:
            return packed.translate(runner.pick_table)
        return bytes(map(bool, map(runner.bit.__and__, masks)))

    def _choose(self, key: tuple[str, str]) -> int:
        """The spool mask of the routes that take events of (realm, event type) *key*."""
        mask = 0
        for runner in self.runners:
            if runner.route.selects(*key):
                mask |= runner.bit
        return mask

    async def submit(self, source: str, events: Sequence[Event], checkpoint: bytes | None = None) -> Receipt:
        """Route *events*, spool them with *checkpoint* and hand them to the routes' workers;
        see :meth:`~kete_core.contracts.Intake.submit`."""
        while self.congested or self._memory_full():
            self._room.clear()
            await self._room.wait()
        receipt = Receipt(asyncio.get_running_loop().create_future())
        self.stats.received[source] = self.stats.received.get(source, 0) + len(events)
        if events:
            newest = events[-1].data.get("time")
            if isinstance(newest, int):
                self.newest_time[source] = max(newest, self.newest_time.get(source, 0))
        # Whole batches at C speed, no loop over events here: a route's selection is one byte per
        # event (its picks), which counts what it matched and is itertools.compress's selector.
        masks = self._masks(events)
        if 0 in masks:
            taken = list(compress(events, masks))
            masks = list(filter(None, masks))
        else:
            taken = list(events)
        packed = bytes(masks) if self._packed else None
        selections = [self._picks(runner, masks, packed) for runner in self.runners]
        counts = [picks.count(1) for picks in selections]
        # Each event is serialized once per serializer, however many routes use it, and before
        # the spool write, which pushes the events out of the CPU's cache.
        serialized: dict[int, tuple[list[Message | None], bool]] = {}
        for runner, count in zip(self.runners, counts, strict=True):
            serializer = id(runner.route.serializer)
            if count and not runner.overflowed and serializer not in serialized:
                serialized[serializer] = self._serialize(runner.route, taken)
        self.spool.append(taken, masks, (source, checkpoint) if checkpoint is not None else None)
        last = self.spool.next_seq - 1
        accepted = time.monotonic()
        pending = 0
        for runner, picks, count in zip(self.runners, selections, counts, strict=True):
            if not count:
                self._advance(runner, last)
                continue
            pending += 1
            route = runner.route
            self.stats.routes[route.name].matched += count
            if self.app.hooks.watches_match:
                self.app.hooks.after_match(route.name, list(compress(taken, picks)))
            if runner.overflowed:
                messages = []
            else:
                shared, complete = serialized[id(route.serializer)]
                messages = shared.copy() if count == len(taken) else list(compress(shared, picks))
                if not complete:
                    messages = self._without_failures(route, messages)
            self._hand_over(runner, _Batch(messages, last, accepted))  # type: ignore[arg-type]
            runner.waiters.append((last, receipt))
        receipt.pending = pending
        if not pending:
            receipt.done.set_result(None)
        return receipt

    def _advance(self, runner: _Runner, last: int) -> None:
        """Let a route that took nothing up to *last* move its done mark past it."""
        if runner.idle:
            self._mark(runner, last)
        else:
            self._hand_over(runner, _Batch([], last, time.monotonic()))

    def _hand_over(self, runner: _Runner, batch: _Batch) -> None:
        if runner.overflowed or len(runner.queue) >= self._queue_size:
            # The batch is in the spool; the worker reads it back when it gets there.
            runner.overflowed = True
        else:
            runner.queue.append(batch)
            runner.loaded = batch.upto
        runner.wakeup.set()

    def _serialize(self, route: Route, events: Sequence[Event]) -> tuple[list[Message | None], bool]:
        """*route*'s serializer's message for each of *events*, None where it failed (logged), and
        whether none failed."""
        serializer = route.serializer
        content_type = serializer.content_type
        try:
            payloads = serializer.serialize_batch(events)
            if len(payloads) == len(events):
                return list(map(Message, events, payloads, repeat(content_type))), True
            log.error(
                "serializer '%s' returned %d payloads for %d events", route.serializer_kind, len(payloads), len(events)
            )
        except Exception:
            pass
        serialize = serializer.serialize
        messages: list[Message | None] = []
        for event in events:
            try:
                messages.append(Message(event, serialize(event), content_type))
            except Exception as exc:
                messages.append(None)
                log.error("serializer '%s' cannot write %r: %s", route.serializer_kind, event, exc)
                self.app.hooks.serialize_failed(route.serializer_kind, event, exc)
        return messages, None not in messages

    def _messages(self, route: Route, events: Sequence[Event]) -> list[Message]:
        """*route*'s messages for *events*, without those its serializer failed on (counted)."""
        messages, _ = self._serialize(route, events)
        return self._without_failures(route, messages)

    def _without_failures(self, route: Route, messages: list[Message | None]) -> list[Message]:
        """*messages* without the events the serializer failed on, counted as failed for *route*."""
        kept = [message for message in messages if message is not None]
        self.stats.routes[route.name].failed += len(messages) - len(kept)
        return kept

    def reject(self, rejection: Rejection) -> None:
        """Log, count and keep a record that is not an event."""
        self.stats.rejected[rejection.source] = self.stats.rejected.get(rejection.source, 0) + 1
        log.warning("source '%s': %s: rejected: %s", rejection.source, rejection.where, rejection.reason)
        self.spool.reject(rejection)
        self.app.hooks.event_rejected(rejection)

    def drain_latencies(self) -> list[tuple[str, float, int]]:
        """(route, seconds from acceptance to acknowledgement, events) of batches delivered since
        the last call."""
        latencies, self._latencies = self._latencies, []
        return latencies

    def request_stop(self) -> None:
        """First call: stop the sources and deliver what was accepted. Second call: stop delivering
        too; what is left stays in the spool for the next start."""
        if not self.stopping.is_set():
            log.info("stopping: sources stop reading, accepted events are delivered (again to stop at once)")
            self.stopping.set()
        elif not self.aborting.is_set():
            log.warning("stopping at once: undelivered events stay in the spool for the next start")
            self.aborting.set()
            for runner in self.runners:
                runner.wakeup.set()

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
        saver = asyncio.create_task(self._save_periodically())
        try:
            await self.app.hooks.startup(self.app)
            for runner in self.runners:
                await self._start_sink(runner)
            workers = [
                asyncio.create_task(self._work(runner), name=f"route {runner.route.name}") for runner in self.runners
            ]
            await asyncio.gather(*(self._run_source(source) for source in self.app.sources))
            self.finishing = True
            for runner in self.runners:
                runner.wakeup.set()
            await asyncio.gather(*workers)
            for runner in self.runners:
                await self._close(runner)
        finally:
            saver.cancel()
            for signum in handled:
                loop.remove_signal_handler(signum)
            self.spool.compact()
            self.stats.left_in_spool = self.spool.depth
            self.spool.forget_rejected(self.app.config.settings.retention)
            self.spool.close()
            self.observability.stop()
            await self.app.hooks.shutdown(self.app)
        return self.stats

    async def _save_periodically(self) -> None:
        while True:
            self.observability.refresh()
            await asyncio.sleep(_COMPACT_INTERVAL)
            self.spool.compact()

    async def _start_sink(self, runner: _Runner) -> None:
        """Connect a route's sink before events flow, so readiness is known early; a failure is
        only reported here, the first delivery tries again."""
        try:
            await runner.route.sink.start()
            runner.started = True
        except Exception as exc:
            runner.unavailable = f"{type(exc).__name__}: {exc}"
            log.warning("route '%s': the destination is not available yet: %s", runner.route.name, runner.unavailable)

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

    async def _close(self, runner: _Runner) -> None:
        if not runner.started:
            return
        try:
            await runner.route.sink.close()
        except Exception:
            log.exception("route '%s': the sink failed to close", runner.route.name)

    # ------------------------------------------------------------------ delivery

    def _next_batch(self, runner: _Runner) -> _Batch | None:
        queue = runner.queue
        if queue:
            self._room.set()
            batch = queue.popleft()
            # Batches queue up while the sink works on one: they go out together, so a slow
            # round trip (a broker's acknowledgement) is paid once for all of them. When the sink
            # keeps up, nothing waits and each batch goes out as soon as it is accepted.
            while queue and len(batch.messages) + len(queue[0].messages) <= self._batch_limit:
                following = queue.popleft()
                batch.messages.extend(following.messages)
                batch.upto = following.upto
            return batch
        if not runner.overflowed:
            return None
        rows = self.spool.read(runner.route.name, runner.loaded, self._batch_limit)
        if len(rows) < self._batch_limit:
            runner.overflowed = False
            upto = self.spool.next_seq - 1
        else:
            upto = rows[-1][0]
        runner.loaded = upto
        messages = self._messages(runner.route, [event for _, event in rows])
        return _Batch(messages, upto, time.monotonic())

    def _mark(self, runner: _Runner, upto: int) -> None:
        self.spool.mark_done(runner.route.name, upto)
        now = time.monotonic()
        if now - self._marks_saved >= _MARK_INTERVAL:
            self.spool.save()
            self._marks_saved = now
        waiters = runner.waiters
        while waiters and waiters[0][0] <= upto:
            waiters.popleft()[1].release()
        self._room.set()

    async def _work(self, runner: _Runner) -> None:
        while not self.aborting.is_set():
            batch = self._next_batch(runner)
            if batch is None:
                if self.finishing:
                    return
                runner.wakeup.clear()
                await runner.wakeup.wait()
                continue
            runner.busy = True
            try:
                finished = await self._deliver(runner, batch)
            except Exception:
                # A bug in a hook or a sink must not stall the route: count, keep, go on.
                log.exception("route '%s': delivery crashed", runner.route.name)
                self.stats.routes[runner.route.name].failed += len(batch.messages)
                finished = True
            finally:
                runner.busy = False
            if not finished:
                return
            if batch.messages and len(self._latencies) < 10_000:
                self._latencies.append((runner.route.name, time.monotonic() - batch.accepted, len(batch.messages)))
            self._mark(runner, batch.upto)

    async def _attempt(self, runner: _Runner, messages: list[Message]) -> DeliveryResults | Unavailable:
        sink = runner.route.sink
        try:
            if not runner.started:
                await sink.start()
                runner.started = True
            results = await sink.send(messages)
        except Unavailable as exc:
            return exc
        except Exception as exc:
            if not runner.started:
                return Unavailable(f"the sink could not start: {type(exc).__name__}: {exc}")
            return [exc] * len(messages)
        if results is not None and len(results) != len(messages):
            error = KeteError(f"the sink returned {len(results)} results for {len(messages)} messages")
            return [error] * len(messages)
        return results

    async def _pause(self, seconds: float, *, until: asyncio.Event) -> bool:
        """Sleep *seconds* unless *until* is set first; return True when it was set."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(until.wait(), timeout=seconds)
        return until.is_set()

    async def _deliver(self, runner: _Runner, batch: _Batch) -> bool:
        """Deliver or dead-letter *batch*; False when stopped first (the batch stays spooled)."""
        route = runner.route
        stats = self.stats.routes[route.name]
        hooks = self.app.hooks
        pending = batch.messages
        attempt = 0
        outages = 0
        first_attempt = time.time()
        while pending:
            hooks.before_emit(route.name, pending)
            results = await self._attempt(runner, pending)
            if isinstance(results, Unavailable):
                outages += 1
                if outages == 1 or outages % 10 == 0:
                    log.warning("route '%s': destination unavailable, waiting for it: %s", route.name, results)
                runner.unavailable = str(results)
                self._room.set()
                stop = self.aborting if not self.stopping.is_set() else self.stopping
                if await self._pause(_wait(route.retry.wait(outages), [results]), until=stop):
                    return False
                continue
            if runner.unavailable is not None:
                log.info("route '%s': destination available again", route.name)
                runner.unavailable = None
            outages = 0
            attempt += 1
            if results is None:
                delivered, failed = pending, []
            else:
                delivered = [message for message, result in zip(pending, results, strict=True) if result is None]
                failed = [(message, result) for message, result in zip(pending, results, strict=True) if result]
            if delivered:
                stats.delivered += len(delivered)
                hooks.after_emit(route.name, delivered)
            if not failed:
                return True
            pending = await self._retry_or_give_up(runner, failed, attempt, first_attempt)
            wait = _wait(route.retry.wait(attempt), [error for _, error in failed])
            if pending:
                stats.retried += len(pending)
                runner.retrying = True
                self._room.set()
                try:
                    if await self._pause(wait, until=self.aborting):
                        return False
                finally:
                    runner.retrying = False
        return True

    async def _retry_or_give_up(
        self, runner: _Runner, failed: list[tuple[Message, BaseException]], attempt: int, first_attempt: float
    ) -> list[Message]:
        route = runner.route
        retry = route.retry
        elapsed_out = (
            retry.max_elapsed_duration is not None and time.time() - first_attempt >= retry.max_elapsed_duration
        )
        by_error: dict[int, tuple[BaseException, list[Message]]] = {}
        for message, error in failed:
            by_error.setdefault(id(error), (error, []))[1].append(message)
        retry_errors = set()
        for key, (error, messages) in by_error.items():
            action = self.app.hooks.on_emit_error(route.name, messages, error, attempt)
            if action is None:
                retryable = attempt < retry.attempts and not elapsed_out and not isinstance(error, PermanentError)
                action = ErrorAction.RETRY if retryable else ErrorAction.GIVE_UP
            if action is ErrorAction.RETRY:
                retry_errors.add(key)
            else:
                await self._dead_letter(runner, messages, error, attempt, first_attempt)
        return [message for message, error in failed if id(error) in retry_errors]

    async def _dead_letter(
        self, runner: _Runner, messages: list[Message], error: BaseException, attempts: int, first_attempt: float
    ) -> None:
        route = runner.route
        stats = self.stats.routes[route.name]
        stats.failed += len(messages)
        stats.dead_lettered += len(messages)
        ids = ", ".join(str(message.event.id) for message in messages[:5])
        more = f" and {len(messages) - 5} more" if len(messages) > 5 else ""
        target = route.dead_letter.route
        log.error(
            "route '%s': gave up on %d event(s) after %d attempt(s): %s: %s (event ids: %s%s); dead-lettered to %s",
            route.name, len(messages), attempts, type(error).__name__, error, ids, more,
            f"route '{target}'" if target else self.dead_letter_dir / f"{route.name}.jsonl",
        )  # fmt: skip
        if target is None:
            await asyncio.to_thread(
                deadletters.write, self.dead_letter_dir, route.name, messages, error, attempts, first_attempt
            )
            return
        other = self.by_name[target]
        bit = 1 << self.spool.bits[target]
        events = [message.event for message in messages]
        self.spool.append(events, [bit] * len(events))
        self.stats.routes[target].matched += len(events)
        serialized = self._messages(other.route, events)
        last = self.spool.next_seq - 1
        self._hand_over(other, _Batch(serialized, last, time.monotonic()))
        for runner in self.runners:
            if runner is not other:
                self._advance(runner, last)
