"""Running an application: sources → routes → serializers → sinks, on one asyncio loop.

Each route has a bounded queue and one worker, so a slow or broken sink slows only its own route
(and, once its queue is full, the sources: back-pressure, never silent dropping). Each event is
serialized once per distinct serializer, whatever the number of routes that use it. Stopping
(SIGINT/SIGTERM) stops the sources and drains what was already accepted.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field

from kete_core.assembly import Application
from kete_core.contracts import DeliveryResults, Message, Receipt, Rejection, Source
from kete_core.errors import KeteError, PermanentError
from kete_core.event import Event
from kete_core.policy import ErrorAction
from kete_core.routing import Route

log = logging.getLogger("kete")

_Batch = tuple[list[Message], Receipt]


@dataclass
class RouteStats:
    """Counters of one route."""

    matched: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0


@dataclass
class RunStats:
    """Counters of one run, reported when it ends."""

    received: int = 0
    rejected: int = 0
    source_errors: int = 0
    routes: dict[str, RouteStats] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        """Events that some route gave up on."""
        return sum(route.failed for route in self.routes.values())


class _SourceIntake:
    """The :class:`~kete_core.contracts.Intake` one source sees."""

    def __init__(self, pipeline: Pipeline, source: str) -> None:
        self.pipeline = pipeline
        self.source = source
        self.stopping = pipeline.stopping

    @property
    def congested(self) -> bool:
        return any(queue.full() for queue in self.pipeline.queues.values())

    async def submit(self, events: Sequence[Event]) -> Receipt:
        self.pipeline.app.hooks.after_receive(self.source, events)
        return await self.pipeline.submit(events)

    def reject(self, rejection: Rejection) -> None:
        self.pipeline.reject(rejection)


class Pipeline:
    """Moves events through an :class:`Application`; see the module documentation."""

    def __init__(self, app: Application) -> None:
        self.app = app
        self.routes = app.routes
        self.stopping = asyncio.Event()
        self.stats = RunStats(routes={route.name: RouteStats() for route in app.routes})
        size = app.config.settings.queue_size
        self.queues: dict[str, asyncio.Queue[_Batch | None]] = {
            route.name: asyncio.Queue(maxsize=size) for route in app.routes
        }
        self._started: set[str] = set()

    def intake(self, source: str) -> _SourceIntake:
        """The intake for the source named *source*."""
        return _SourceIntake(self, source)

    async def submit(self, events: Sequence[Event]) -> Receipt:
        """Route *events* and queue them for every route that selected any; see
        :meth:`~kete_core.contracts.Intake.submit`."""
        receipt = Receipt(asyncio.get_running_loop().create_future())
        self.stats.received += len(events)
        # Each event is serialized once per serializer and batch, however many routes use it.
        payloads: dict[tuple[int, int], bytes | Exception] = {}
        work: list[tuple[Route, list[Message]]] = []
        for route in self.routes:
            selects = route.selects
            selected = [event for event in events if selects(event.realm, event.event_type)]
            if not selected:
                continue
            self.stats.routes[route.name].matched += len(selected)
            self.app.hooks.after_match(route.name, selected)
            messages = self._serialize(route, selected, payloads)
            if messages:
                work.append((route, messages))
        receipt.pending = len(work)
        if not work:
            receipt.done.set_result(None)
        for route, messages in work:
            await self.queues[route.name].put((messages, receipt))
        return receipt

    def _serialize(
        self, route: Route, selected: list[Event], payloads: dict[tuple[int, int], bytes | Exception]
    ) -> list[Message]:
        serializer = route.serializer
        serializer_id = id(serializer)
        content_type = serializer.content_type
        messages = []
        for event in selected:
            key = (serializer_id, id(event))
            payload = payloads.get(key)
            if payload is None:
                try:
                    payload = serializer.serialize(event)
                except Exception as exc:
                    payload = exc
                    log.error("serializer '%s' cannot write %r: %s", route.serializer_kind, event, exc)
                    self.app.hooks.serialize_failed(route.serializer_kind, event, exc)
                payloads[key] = payload
            if isinstance(payload, bytes):
                messages.append(Message(event, payload, content_type))
            else:
                self.stats.routes[route.name].failed += 1
        return messages

    def reject(self, rejection: Rejection) -> None:
        """Log and count a record that is not an event."""
        self.stats.rejected += 1
        log.warning("source '%s': %s: rejected: %s", rejection.source, rejection.where, rejection.reason)
        self.app.hooks.event_rejected(rejection)

    def request_stop(self) -> None:
        """Stop the sources; what was accepted is still delivered."""
        if not self.stopping.is_set():
            log.info("stopping: sources stop reading, accepted events are delivered")
            self.stopping.set()

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
        try:
            await self.app.hooks.startup(self.app)
            workers = [asyncio.create_task(self._drain(route), name=f"route {route.name}") for route in self.routes]
            await asyncio.gather(*(self._run_source(source) for source in self.app.sources))
            for queue in self.queues.values():
                await queue.put(None)
            await asyncio.gather(*workers)
            for route in self.routes:
                await self._close(route)
        finally:
            for signum in handled:
                loop.remove_signal_handler(signum)
            await self.app.hooks.shutdown(self.app)
        return self.stats

    async def _run_source(self, source: Source) -> None:
        try:
            await source.run(self.intake(source.name))
        except KeteError as exc:
            self.stats.source_errors += 1
            log.error("source '%s': %s", source.name, exc)
        except Exception:
            self.stats.source_errors += 1
            log.exception("source '%s' failed", source.name)
        finally:
            try:
                await source.close()
            except Exception:
                log.exception("source '%s' failed to close", source.name)

    async def _close(self, route: Route) -> None:
        if route.name not in self._started:
            return
        try:
            await route.sink.close()
        except Exception:
            log.exception("route '%s': the sink failed to close", route.name)

    async def _drain(self, route: Route) -> None:
        queue = self.queues[route.name]
        while (item := await queue.get()) is not None:
            messages, receipt = item
            try:
                await self._deliver(route, messages)
            except Exception:
                # A bug in a hook or sink must not stall the route: count and go on.
                log.exception("route '%s': delivery crashed", route.name)
                self.stats.routes[route.name].failed += len(messages)
            finally:
                receipt.release()

    async def _attempt(self, route: Route, messages: list[Message]) -> DeliveryResults:
        try:
            if route.name not in self._started:
                await route.sink.start()
                self._started.add(route.name)
            results = await route.sink.send(messages)
        except Exception as exc:
            return [exc] * len(messages)
        if results is not None and len(results) != len(messages):
            error = KeteError(f"the sink returned {len(results)} results for {len(messages)} messages")
            return [error] * len(messages)
        return results

    async def _deliver(self, route: Route, messages: list[Message]) -> None:
        stats = self.stats.routes[route.name]
        hooks = self.app.hooks
        pending = messages
        attempt = 0
        while pending:
            attempt += 1
            hooks.before_emit(route.name, pending)
            results = await self._attempt(route, pending)
            if results is None:
                delivered, failed = pending, []
            else:
                delivered = [message for message, result in zip(pending, results, strict=True) if result is None]
                failed = [(message, result) for message, result in zip(pending, results, strict=True) if result]
            if delivered:
                stats.delivered += len(delivered)
                hooks.after_emit(route.name, delivered)
            pending = self._retry_or_give_up(route, failed, attempt)
            if pending:
                stats.retried += len(pending)
                await asyncio.sleep(route.retry.wait_duration)

    def _retry_or_give_up(
        self, route: Route, failed: list[tuple[Message, BaseException]], attempt: int
    ) -> list[Message]:
        by_error: dict[int, tuple[BaseException, list[Message]]] = {}
        for message, error in failed:
            by_error.setdefault(id(error), (error, []))[1].append(message)
        retry_errors = set()
        for key, (error, messages) in by_error.items():
            action = self.app.hooks.on_emit_error(route.name, messages, error, attempt)
            if action is None:
                retryable = attempt < route.retry.attempts and not isinstance(error, PermanentError)
                action = ErrorAction.RETRY if retryable else ErrorAction.GIVE_UP
            if action is ErrorAction.RETRY:
                retry_errors.add(key)
            else:
                self.stats.routes[route.name].failed += len(messages)
                ids = ", ".join(str(message.event.id) for message in messages[:5])
                more = f" and {len(messages) - 5} more" if len(messages) > 5 else ""
                log.error(
                    "route '%s': gave up on %d event(s) after %d attempt(s): %s: %s (event ids: %s%s)",
                    route.name, len(messages), attempt, type(error).__name__, error, ids, more,
                )  # fmt: skip
        return [message for message, error in failed if id(error) in retry_errors]
