"""Delivery: one worker per route sends what the route took to its sink, in spool order.

A worker takes the batches handed over to it in memory; once it fell behind (its queue was full,
or its destination was down) it reads them back from the spool instead. It retries failed
messages as the route's retry policy decides (:mod:`kete_core.policy`), waits out a destination
that is unreachable as a whole (:class:`~kete_core.errors.Unavailable`) without using up
attempts, and dead-letters what it gives up on: to ``<data-dir>/dead-letters/<route>.jsonl``, or to
another route. Its progress is its *done* mark in the spool; a batch's receipt is released once
every route that took events of it is past it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import compress
from pathlib import Path
from typing import cast

from kete_core import deadletters
from kete_core.contracts import DeliveryResults, Message, Receipt
from kete_core.display import redact
from kete_core.errors import KeteError, Unavailable
from kete_core.event import Event
from kete_core.hooks import Hooks
from kete_core.policy import ErrorAction
from kete_core.routing import Route, Selection
from kete_core.serialization import serialize
from kete_core.spool import MemorySpool, Spool
from kete_core.status import RunStats

log = logging.getLogger("kete")

# The most messages handed to a sink at once: queued batches are joined up to this, and a route
# reading back from the spool reads about this many.
BATCH_LIMIT = 5000
# Done marks are saved at most this often: a kill -9 re-delivers what was delivered since.
_MARK_INTERVAL = 0.1
# Delivered batches' latencies kept until the next status snapshot takes them, at most.
_LATENCIES_KEPT = 10_000

Serialized = Mapping[int, tuple[list[Message | None], bool]]
"""A batch's messages by ``id`` of the serializer that wrote them, and whether none failed."""


@dataclass
class Batch:
    """Messages for one route, of the spooled batches up to sequence number :attr:`upto`."""

    messages: list[Message]
    upto: int
    accepted: float


class RouteWorker:
    """One route's worker: it delivers the route's batches in spool order, retries, waits out an
    unreachable destination and dead-letters what it gives up on.

    :param route: the route.
    :param done: the route's done mark in the spool: where its worker starts.
    :param delivery: what the workers share.
    """

    def __init__(self, route: Route, done: int, delivery: Delivery) -> None:
        self.route = route
        self.delivery = delivery
        self.queue: deque[Batch] = deque()
        self.wakeup = asyncio.Event()
        self.overflowed = False
        self.busy = False
        self.loaded = done
        self.waiters: deque[tuple[int, Receipt]] = deque()
        self.started = False
        self.running = False
        self.unavailable: str | None = None
        self.retrying = False
        self.feeders: list[RouteWorker] = []
        """The workers of the routes that dead-letter into this one: it runs for as long as they do."""

    @property
    def stalled(self) -> bool:
        """True while the destination is down or a batch is waiting to be retried."""
        return self.unavailable is not None or self.retrying

    @property
    def idle(self) -> bool:
        return not (self.queue or self.overflowed or self.busy)

    async def start(self) -> None:
        """Connect the sink before events flow, so readiness is known early; a failure is only
        reported here, the first delivery tries again."""
        try:
            await self.route.sink.start()
            self.started = True
        except Exception as exc:
            self.unavailable = redact(f"{type(exc).__name__}: {exc}")
            log.warning("route '%s': the destination is not available yet: %s", self.route.name, self.unavailable)
        self.running = True

    async def close(self) -> None:
        if not self.started:
            return
        try:
            await self.route.sink.close()
        except Exception:
            log.exception("route '%s': the sink failed to close", self.route.name)

    async def run(self) -> None:
        """Deliver batches as they come, until the sources ended, nothing is left and no route
        that dead-letters into this one still runs; or until delivery is aborted."""
        try:
            await self._deliver_all()
        finally:
            self.running = False
            if self.route.dead_letter.route is not None:
                self.delivery.by_name[self.route.dead_letter.route].wakeup.set()

    async def _deliver_all(self) -> None:
        delivery = self.delivery
        while not delivery.aborting.is_set():
            batch = self._next_batch()
            if batch is None:
                if delivery.finishing and not any(feeder.running for feeder in self.feeders):
                    return
                self.wakeup.clear()
                await self.wakeup.wait()
                continue
            self.busy = True
            try:
                finished = await self._deliver(batch)
            except Exception:
                # A bug in a hook or a sink must not stall the route: count, keep, go on.
                log.exception("route '%s': delivery crashed", self.route.name)
                delivery.stats.routes[self.route.name].failed += len(batch.messages)
                finished = True
            finally:
                self.busy = False
            if not finished:
                return
            delivery.delivered(self, batch)

    def _next_batch(self) -> Batch | None:
        delivery = self.delivery
        queue = self.queue
        if queue:
            delivery.room.set()
            batch = queue.popleft()
            # Batches queue up while the sink works on one: they go out together, so a slow
            # round trip (a broker's acknowledgement) is paid once for all of them. When the sink
            # keeps up, nothing waits and each batch goes out as soon as it is accepted.
            while queue and len(batch.messages) + len(queue[0].messages) <= delivery.batch_limit:
                following = queue.popleft()
                batch.messages.extend(following.messages)
                batch.upto = following.upto
            return batch
        if not self.overflowed:
            return None
        spool = delivery.spool
        rows = spool.read(self.route.name, self.loaded, delivery.batch_limit)
        if len(rows) < delivery.batch_limit:
            self.overflowed = False
            upto = spool.next_seq - 1
        else:
            upto = rows[-1][0]
        self.loaded = upto
        if rows and rows[0][0] <= delivery.resumed_upto:
            resumed = sum(1 for seq, _ in rows if seq <= delivery.resumed_upto)
            delivery.stats.routes[self.route.name].resumed += resumed
        messages = delivery.messages(self.route, [event for _, event in rows])
        return Batch(messages, upto, time.monotonic())

    async def _attempt(self, messages: list[Message]) -> DeliveryResults | Unavailable:
        sink = self.route.sink
        try:
            if not self.started:
                await sink.start()
                self.started = True
            results = await sink.send(messages)
        except Unavailable as exc:
            return exc
        except Exception as exc:
            if not self.started:
                return Unavailable(f"the sink could not start: {type(exc).__name__}: {exc}")
            return [exc] * len(messages)
        if results is not None and len(results) != len(messages):
            error = KeteError(f"the sink returned {len(results)} results for {len(messages)} messages")
            return [error] * len(messages)
        return results

    async def _deliver(self, batch: Batch) -> bool:
        """Deliver or dead-letter *batch*; False when stopped first (the batch stays spooled)."""
        route = self.route
        delivery = self.delivery
        stats = delivery.stats.routes[route.name]
        hooks = delivery.hooks
        pending = batch.messages
        attempt = 0
        outages = 0
        first_attempt = time.time()
        while pending:
            hooks.before_emit(route.name, pending)
            results = await self._attempt(pending)
            if isinstance(results, Unavailable):
                outages += 1
                self.unavailable = redact(str(results))
                if outages == 1 or outages % 10 == 0:
                    log.warning("route '%s': destination unavailable, waiting for it: %s", route.name, self.unavailable)
                delivery.room.set()
                stop = delivery.aborting if not delivery.stopping.is_set() else delivery.stopping
                if await _pause(route.retry.wait(outages, [results]), until=stop):
                    return False
                continue
            if self.unavailable is not None:
                log.info("route '%s': destination available again", route.name)
                self.unavailable = None
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
            pending = await self._retry_or_give_up(failed, attempt, first_attempt)
            if pending:
                stats.retried += len(pending)
                self.retrying = True
                delivery.room.set()
                try:
                    wait = route.retry.wait(attempt, [error for _, error in failed])
                    if await _pause(wait, until=delivery.aborting):
                        return False
                finally:
                    self.retrying = False
        return True

    async def _retry_or_give_up(
        self, failed: list[tuple[Message, BaseException]], attempt: int, first_attempt: float
    ) -> list[Message]:
        """The messages to try again; the others are dead-lettered. Each distinct error is one
        decision of ``kete_on_emit_error``."""
        route = self.route
        elapsed = time.time() - first_attempt
        by_error: dict[int, tuple[BaseException, list[Message]]] = {}
        for message, error in failed:
            by_error.setdefault(id(error), (error, []))[1].append(message)
        retry_errors = set()
        for key, (error, messages) in by_error.items():
            action = self.delivery.hooks.on_emit_error(route.name, messages, error, attempt, route.retry, elapsed)
            if action is ErrorAction.RETRY:
                retry_errors.add(key)
            else:
                await self._dead_letter(messages, error, attempt, first_attempt)
        return [message for message, error in failed if id(error) in retry_errors]

    async def _dead_letter(
        self, messages: list[Message], error: BaseException, attempts: int, first_attempt: float
    ) -> None:
        route = self.route
        delivery = self.delivery
        stats = delivery.stats.routes[route.name]
        stats.failed += len(messages)
        stats.dead_lettered += len(messages)
        ids = ", ".join(str(message.event.id) for message in messages[:5])
        more = f" and {len(messages) - 5} more" if len(messages) > 5 else ""
        target = route.dead_letter.route
        log.error(
            "route '%s': gave up on %d event(s) after %d attempt(s): %s: %s (event ids: %s%s); dead-lettered to %s",
            route.name, len(messages), attempts, type(error).__name__, error, ids, more,
            f"route '{target}'" if target else delivery.dead_letter_dir / f"{route.name}.jsonl",
        )  # fmt: skip
        if target is None:
            await asyncio.to_thread(
                deadletters.write, delivery.dead_letter_dir, route.name, messages, error, attempts, first_attempt
            )
        else:
            delivery.redirect([message.event for message in messages], target)


async def _pause(seconds: float, *, until: asyncio.Event) -> bool:
    """Sleep *seconds* unless *until* is set first; return True when it was set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(until.wait(), timeout=seconds)
    return until.is_set()


class Delivery:
    """The routes' workers and what they share.

    :param routes: the routes, in configuration order.
    :param spool: the spool the batches were written to.
    :param hooks: the hook plugins.
    :param stats: the run's counters; delivery counts into them.
    :param dead_letter_dir: where routes without a dead-letter route write their dead letters.
    :param queue_size: batches a route keeps in memory before it reads back from the spool.
    :param stopping: set when kete is asked to stop; from then on an unreachable destination no
        longer holds the run up (what it has not taken stays in the spool).
    """

    def __init__(
        self,
        routes: Sequence[Route],
        spool: Spool | MemorySpool,
        hooks: Hooks,
        stats: RunStats,
        *,
        dead_letter_dir: Path,
        queue_size: int,
        stopping: asyncio.Event,
    ) -> None:
        self.spool = spool
        self.hooks = hooks
        self.stats = stats
        self.dead_letter_dir = dead_letter_dir
        self.queue_size = queue_size
        self.batch_limit = BATCH_LIMIT
        self.stopping = stopping
        self.aborting = asyncio.Event()
        self.room = asyncio.Event()
        """Set whenever a route made room; a source waiting to submit looks again."""
        self.finishing = False
        """Set once the sources ended: a worker with nothing left to do ends too."""
        self._tasks: list[asyncio.Task[None]] = []
        self._marks_saved = 0.0
        self._latencies: list[tuple[str, float, int]] = []
        self.workers = [RouteWorker(route, spool.done[route.name], self) for route in routes]
        self.by_name = {worker.route.name: worker for worker in self.workers}
        last = spool.next_seq - 1
        self.resumed_upto = last
        """Spooled events up to here were matched by an earlier run: counted as resumed, not matched."""
        for worker in self.workers:
            worker.overflowed = worker.loaded < last
            if worker.route.dead_letter.route is not None:
                self.by_name[worker.route.dead_letter.route].feeders.append(worker)

    # ------------------------------------------------------------------ handing over

    def memory_full(self) -> bool:
        """True while a route that is making progress has its in-memory queue full: the source
        waits for it rather than push batches it would read back from the spool. A stalled route
        (destination down, retrying) never holds the others up: it overflows to the spool."""
        size = self.queue_size
        return any(len(worker.queue) >= size and not worker.stalled for worker in self.workers)

    def hand_over(self, selection: Selection, serialized: Serialized, last: int) -> Receipt:
        """Give each route its messages of a batch spooled up to sequence number *last*; the
        receipt resolves once every route that took events of it is done with them."""
        receipt = Receipt(asyncio.get_running_loop().create_future())
        accepted = time.monotonic()
        taken = len(selection.events)
        pending = 0
        for worker, picks, count in zip(self.workers, selection.picks, selection.counts, strict=True):
            if not count:
                self.advance(worker, last)
                continue
            pending += 1
            messages: list[Message]
            if worker.overflowed:
                messages = []
            else:
                shared, complete = serialized[id(worker.route.serializer)]
                chosen = shared.copy() if count == taken else list(compress(shared, picks))
                # A complete serialization has no None in it.
                messages = cast("list[Message]", chosen) if complete else self._without_failures(worker.route, chosen)
            self.queue(worker, Batch(messages, last, accepted))
            worker.waiters.append((last, receipt))
        receipt.pending = pending
        if not pending:
            receipt.done.set_result(None)
        return receipt

    def advance(self, worker: RouteWorker, last: int) -> None:
        """Let a route that took nothing up to *last* move its done mark past it."""
        if worker.idle:
            self.mark(worker, last)
        else:
            self.queue(worker, Batch([], last, time.monotonic()))

    def queue(self, worker: RouteWorker, batch: Batch) -> None:
        """Hand *batch* to *worker*: in memory while its queue has room, else it reads the batch
        back from the spool."""
        if worker.overflowed or len(worker.queue) >= self.queue_size:
            # The batch is in the spool; the worker reads it back when it gets there.
            worker.overflowed = True
        else:
            worker.queue.append(batch)
            worker.loaded = batch.upto
        worker.wakeup.set()

    def messages(self, route: Route, events: Sequence[Event]) -> list[Message]:
        """*route*'s messages for *events*, without those its serializer failed on (counted)."""
        messages, _ = serialize(route, events, self.hooks)
        return self._without_failures(route, messages)

    def _without_failures(self, route: Route, messages: Sequence[Message | None]) -> list[Message]:
        """*messages* without the events the serializer failed on, counted as failed for *route*."""
        kept = [message for message in messages if message is not None]
        self.stats.routes[route.name].failed += len(messages) - len(kept)
        return kept

    def mark(self, worker: RouteWorker, upto: int) -> None:
        """*worker*'s route is done with every event it took up to *upto*: move its mark, and
        release the receipts of the batches that no route waits for any more."""
        self.spool.mark_done(worker.route.name, upto)
        now = time.monotonic()
        if now - self._marks_saved >= _MARK_INTERVAL:
            self.spool.save()
            self._marks_saved = now
        waiters = worker.waiters
        while waiters and waiters[0][0] <= upto:
            waiters.popleft()[1].release()
        self.room.set()

    def delivered(self, worker: RouteWorker, batch: Batch) -> None:
        """*worker* delivered (or gave up on) *batch*."""
        if batch.messages and len(self._latencies) < _LATENCIES_KEPT:
            self._latencies.append((worker.route.name, time.monotonic() - batch.accepted, len(batch.messages)))
        self.mark(worker, batch.upto)

    def redirect(self, events: Sequence[Event], target: str) -> None:
        """Hand *events*, given up on by one route, to route *target*, whatever its matchers: they
        are spooled for it like a submitted batch."""
        other = self.by_name[target]
        self.spool.append(events, [1 << self.spool.bits[target]] * len(events))
        self.stats.routes[target].matched += len(events)
        messages = self.messages(other.route, events)
        last = self.spool.next_seq - 1
        self.queue(other, Batch(messages, last, time.monotonic()))
        for worker in self.workers:
            if worker is not other:
                self.advance(worker, last)

    # ------------------------------------------------------------------ status

    def not_ready(self) -> dict[str, str]:
        """Why a route's destination is not connected, by ``"route <name>"``."""
        return {f"route {w.route.name}": w.unavailable for w in self.workers if w.unavailable is not None}

    def drain_latencies(self) -> list[tuple[str, float, int]]:
        """(route, seconds from acceptance to acknowledgement, events) of batches delivered since
        the last call."""
        latencies, self._latencies = self._latencies, []
        return latencies

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Connect each route's sink, so readiness is known early, and start its worker."""
        for worker in self.workers:
            await worker.start()
        self._tasks = [asyncio.create_task(worker.run(), name=f"route {worker.route.name}") for worker in self.workers]

    async def finish(self) -> None:
        """Deliver everything handed over (unless aborted), then close the sinks."""
        self.finishing = True
        for worker in self.workers:
            worker.wakeup.set()
        await asyncio.gather(*self._tasks)
        for worker in self.workers:
            await worker.close()

    def abort(self) -> None:
        """Stop delivering; what is not delivered yet stays in the spool."""
        self.aborting.set()
        for worker in self.workers:
            worker.wakeup.set()
