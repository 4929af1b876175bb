"""The routing pipeline with real components: sinks that implement the contract in test-sized ways."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from kete_matchers import GlobMatcher

from kete_core.assembly import Application
from kete_core.builtins.json_serializer import JsonSerializer
from kete_core.builtins.kete_renderer import KeteRenderer
from kete_core.config import KeteConfig, KeteSettings
from kete_core.contracts import ComponentConfig, DeliveryResults, Message, Serializer, Sink
from kete_core.errors import PermanentError
from kete_core.event import Event, parse_event
from kete_core.hooks import Hooks, hookimpl, plugin_manager
from kete_core.pipeline import Pipeline
from kete_core.policy import ErrorAction, RetrySettings
from kete_core.routing import MatcherGroup, Route


class ListSink(Sink):
    """Keeps what it delivers in a list; fails the first *failures* attempts."""

    def __init__(self, failures: int = 0, error: Exception | None = None) -> None:
        self.delivered: list[Message] = []
        self.attempts = 0
        self.failures = failures
        self.error = error or ConnectionError("destination unreachable")
        self.closed = False

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise self.error
        self.delivered.extend(messages)
        return None

    async def close(self) -> None:
        self.closed = True


class CountingSerializer(JsonSerializer):
    calls = 0

    def serialize(self, event: Event) -> bytes:
        CountingSerializer.calls += 1
        return super().serialize(event)


def route(name: str, sink: Sink, serializer: Serializer | None = None, pattern: str | None = None, **retry) -> Route:
    events = MatcherGroup([(GlobMatcher(pattern), False)] if pattern else [])
    retry_settings = RetrySettings.model_validate({"wait-duration": "1ms", **retry})
    return Route(
        name, MatcherGroup([]), events, "json", serializer or JsonSerializer(ComponentConfig()), sink, retry_settings
    )


def application(routes: list[Route], hooks: Hooks | None = None, **settings) -> Application:
    config = KeteConfig("test", KeteSettings.model_validate(settings), {}, {})
    hooks = hooks or Hooks(plugin_manager(load_entry_points=False))
    return Application(config, hooks, KeteRenderer(ComponentConfig(), {}), routes, [])


EVENTS = [parse_event({"type": t, "id": str(i)}) for i, t in enumerate(["LOGIN", "LOGOUT", "LOGIN_ERROR", "LOGIN"])]


async def run_batches(app: Application, batches: list[list[Event]]):
    pipeline = Pipeline(app)
    workers = [asyncio.create_task(pipeline._drain(r)) for r in app.routes]
    receipts = [await pipeline.submit(batch) for batch in batches]
    await asyncio.gather(*(receipt.done for receipt in receipts))
    for queue in pipeline.queues.values():
        await queue.put(None)
    await asyncio.gather(*workers)
    return pipeline.stats


async def test_each_route_gets_what_its_matchers_select():
    logins, everything = ListSink(), ListSink()
    app = application([route("logins", logins, pattern="LOGIN*"), route("all", everything)])
    stats = await run_batches(app, [EVENTS])
    assert [m.event.id for m in logins.delivered] == ["0", "2", "3"]
    assert [m.event.id for m in everything.delivered] == ["0", "1", "2", "3"]
    assert (stats.routes["logins"].matched, stats.routes["logins"].delivered) == (3, 3)


async def test_each_event_is_serialized_once_per_distinct_serializer():
    CountingSerializer.calls = 0
    shared = CountingSerializer(ComponentConfig())
    app = application([route("a", ListSink(), shared), route("b", ListSink(), shared), route("c", ListSink(), shared)])
    await run_batches(app, [EVENTS])
    assert CountingSerializer.calls == len(EVENTS)


async def test_retries_until_the_sink_recovers():
    sink = ListSink(failures=2)
    stats = await run_batches(application([route("r", sink, **{"max-attempts": 3})]), [EVENTS])
    assert sink.attempts == 3 and len(sink.delivered) == 4
    assert (stats.routes["r"].retried, stats.routes["r"].failed) == (8, 0)


async def test_gives_up_after_max_attempts_without_stopping_other_routes():
    dead, alive = ListSink(failures=99), ListSink()
    stats = await run_batches(application([route("dead", dead), route("alive", alive)]), [EVENTS, EVENTS])
    assert dead.attempts == 6  # 3 attempts for each of the two batches
    assert stats.routes["dead"].failed == 8 and stats.failed == 8
    assert len(alive.delivered) == 8


async def test_permanent_errors_are_not_retried():
    sink = ListSink(failures=99, error=PermanentError("bad topic"))
    stats = await run_batches(application([route("r", sink)]), [EVENTS])
    assert sink.attempts == 1 and stats.routes["r"].failed == 4


async def test_retry_disabled_means_one_attempt():
    sink = ListSink(failures=1)
    stats = await run_batches(application([route("r", sink, enabled=False)]), [EVENTS])
    assert sink.attempts == 1 and stats.routes["r"].failed == 4


async def test_per_message_results_retry_only_the_failed_messages():
    class HalfSink(ListSink):
        async def send(self, messages):
            self.attempts += 1
            results = []
            for message in messages:
                if message.event.event_type == "LOGOUT" and self.attempts == 1:
                    results.append(TimeoutError("slow"))
                else:
                    self.delivered.append(message)
                    results.append(None)
            return results

    sink = HalfSink()
    await run_batches(application([route("r", sink)]), [EVENTS])
    assert [m.event.id for m in sink.delivered] == ["0", "2", "3", "1"]


async def test_a_hook_decides_on_errors():
    class GiveUpOnTimeouts:
        @hookimpl
        def kete_on_emit_error(self, route, messages, error, attempt):
            return ErrorAction.GIVE_UP if isinstance(error, TimeoutError) else None

    pm = plugin_manager(load_entry_points=False)
    pm.register(GiveUpOnTimeouts(), name="give-up")
    sink = ListSink(failures=1, error=TimeoutError("slow"))
    stats = await run_batches(application([route("r", sink)], Hooks(pm)), [EVENTS])
    assert sink.attempts == 1 and stats.routes["r"].failed == 4


async def test_a_full_route_queue_slows_the_source_down():
    release = asyncio.Event()

    class BlockedSink(ListSink):
        async def send(self, messages):
            await release.wait()
            return await super().send(messages)

    sink = BlockedSink()
    pipeline = Pipeline(application([route("r", sink)], queue_size=1))
    worker = asyncio.create_task(pipeline._drain(pipeline.routes[0]))
    await pipeline.submit(EVENTS[:1])  # taken by the worker, which blocks in send
    await asyncio.sleep(0)
    await pipeline.submit(EVENTS[1:2])  # fills the queue
    third = asyncio.create_task(pipeline.submit(EVENTS[2:3]))
    await asyncio.sleep(0.05)
    assert not third.done(), "submit must wait while the route's queue is full"
    release.set()
    await third
    await pipeline.queues["r"].put(None)
    await worker
    assert [m.event.id for m in sink.delivered] == ["0", "1", "2"]


async def test_receipts_resolve_only_after_delivery():
    release = asyncio.Event()

    class SlowSink(ListSink):
        async def send(self, messages):
            await release.wait()
            return await super().send(messages)

    pipeline = Pipeline(application([route("r", SlowSink())]))
    worker = asyncio.create_task(pipeline._drain(pipeline.routes[0]))
    receipt = await pipeline.submit(EVENTS)
    await asyncio.sleep(0.01)
    assert not receipt.done.done()
    release.set()
    await receipt.done
    unmatched = await pipeline.submit([])
    assert unmatched.done.done()
    await pipeline.queues["r"].put(None)
    await worker


async def test_a_failing_serializer_fails_only_that_event():
    class Picky(JsonSerializer):
        def serialize(self, event):
            if event.event_type == "LOGOUT":
                raise ValueError("cannot write LOGOUT")
            return super().serialize(event)

    sink = ListSink()
    stats = await run_batches(application([route("r", sink, Picky(ComponentConfig()))]), [EVENTS])
    assert len(sink.delivered) == 3 and stats.routes["r"].failed == 1


@pytest.mark.parametrize("size", [1, 3])
async def test_run_drains_and_closes_sinks(size):
    sink = ListSink()

    class OneShot:
        name = "one-shot"

        async def run(self, intake):
            for event in EVENTS:
                await intake.submit([event])

        async def close(self):
            pass

    app = application([route("r", sink)], queue_size=size)
    app.sources.append(OneShot())  # type: ignore[arg-type]
    stats = await Pipeline(app).run()
    assert stats.received == 4 and len(sink.delivered) == 4 and sink.closed


async def test_intake_reports_congestion_when_a_route_is_full():
    release = asyncio.Event()

    class BlockedSink(ListSink):
        async def send(self, messages):
            await release.wait()
            return await super().send(messages)

    pipeline = Pipeline(application([route("r", BlockedSink())], queue_size=1))
    intake = pipeline.intake("test")
    worker = asyncio.create_task(pipeline._drain(pipeline.routes[0]))
    assert not intake.congested
    await intake.submit(EVENTS[:1])
    await asyncio.sleep(0)
    await intake.submit(EVENTS[1:2])
    assert intake.congested
    release.set()
    await pipeline.queues["r"].put(None)
    await worker
    assert not intake.congested
