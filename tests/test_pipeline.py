"""The routing pipeline with real components: sinks that implement the contract in test-sized ways."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Sequence

import orjson
import pluggy
from kete_matchers.matchers import GlobMatcher

from kete_core import deadletters, hookimpl
from kete_core import spool as spool_module
from kete_core.application import Application
from kete_core.builtins.json_serializer import JsonSerializer
from kete_core.builtins.kete_renderer import KeteRenderer
from kete_core.cli import _summary as summary
from kete_core.config import KeteConfig, KeteSettings
from kete_core.contracts import ComponentConfig, DeliveryResults, Message, Receipt, Serializer, Sink, Source
from kete_core.errors import PermanentError, Unavailable
from kete_core.event import Event, parse_event
from kete_core.hooks import plugin_manager
from kete_core.pipeline import Pipeline
from kete_core.policy import DeadLetterSettings, ErrorAction, RetrySettings
from kete_core.routing import MatcherGroup, Route
from kete_core.spool import Spool


class ListSink(Sink):
    """Keeps what it delivers in a list; fails the first *failures* attempts."""

    def __init__(self, failures: int = 0, error: Exception | None = None) -> None:
        self.delivered: list[Message] = []
        self.attempts = 0
        self.sent: list[int] = []
        self.failures = failures
        self.error = error or ConnectionError("destination unreachable")
        self.closed = False

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        self.attempts += 1
        self.sent.append(len(messages))
        if self.attempts <= self.failures:
            raise self.error
        self.delivered.extend(messages)
        return None

    async def close(self) -> None:
        self.closed = True


class CountingSerializer(Serializer):
    """Serializes one event at a time (the contract's default batch), counting the calls."""

    calls = 0

    def serialize(self, event: Event) -> bytes:
        CountingSerializer.calls += 1
        return orjson.dumps(event.to_kete())


def route(name: str, sink: Sink, serializer: Serializer | None = None, pattern: str | None = None, **retry) -> Route:
    events = MatcherGroup([(GlobMatcher(pattern), False)] if pattern else [])
    retry_settings = RetrySettings.model_validate({"wait-duration": "1ms", **retry})
    return Route(
        name, MatcherGroup([]), events, "json", serializer or JsonSerializer(ComponentConfig()), sink, retry_settings
    )


def application(routes: list[Route], data_dir, plugins: pluggy.PluginManager | None = None, **settings) -> Application:
    settings = {"spool": "memory", "data-dir": str(data_dir), **settings}
    config = KeteConfig("test", KeteSettings.model_validate(settings), {}, {})
    plugins = plugins or plugin_manager(load_entry_points=False)
    return Application(config, plugins, KeteRenderer(ComponentConfig(), {}), routes, [])


EVENTS = [parse_event({"type": t, "id": str(i)}) for i, t in enumerate(["LOGIN", "LOGOUT", "LOGIN_ERROR", "LOGIN"])]


class BatchSource(Source):
    """Submits the given batches, then ends; keeps the receipts."""

    def __init__(self, batches: list[list[Event]]) -> None:
        super().__init__("test", ComponentConfig())
        self.batches = batches
        self.receipts: list[Receipt] = []

    async def run(self, intake) -> None:
        for batch in self.batches:
            self.receipts.append(await intake.submit(batch))


async def run_batches(app: Application, batches: list[list[Event]], spool: Spool | None = None):
    source = BatchSource(batches)
    app.sources = [source]
    stats = await Pipeline(app, spool).run()
    assert all(receipt.done.done() for receipt in source.receipts)
    return stats


async def test_each_route_gets_what_its_matchers_select(tmp_path):
    logins, everything = ListSink(), ListSink()
    app = application([route("logins", logins, pattern="LOGIN*"), route("all", everything)], tmp_path)
    stats = await run_batches(app, [EVENTS])
    assert [m.event.id for m in logins.delivered] == ["0", "2", "3"]
    assert [m.event.id for m in everything.delivered] == ["0", "1", "2", "3"]
    assert (stats.routes["logins"].matched, stats.routes["logins"].delivered) == (3, 3)
    assert stats.left_in_spool == 0 and logins.closed


async def test_routes_past_the_eighth_select_like_the_first_eight(tmp_path):
    # Up to 8 routes, masks are packed one byte per event; past that they are not.
    for count in (8, 10):
        sinks = [ListSink() for _ in range(count)]
        patterns = ["LOGIN*", None, "LOGOUT"]
        routes = [route(f"r{n}", sink, pattern=patterns[n % 3]) for n, sink in enumerate(sinks)]
        stats = await run_batches(application(routes, tmp_path / str(count)), [EVENTS, EVENTS[1:2]])
        expected = [["0", "2", "3"], ["0", "1", "2", "3", "1"], ["1", "1"]]
        assert [[m.event.id for m in sink.delivered] for sink in sinks] == [expected[n % 3] for n in range(count)]
        assert [stats.routes[f"r{n}"].matched for n in range(count)] == [len(expected[n % 3]) for n in range(count)]


async def test_each_event_is_serialized_once_per_distinct_serializer(tmp_path):
    CountingSerializer.calls = 0
    shared = CountingSerializer(ComponentConfig())
    app = application([route(name, ListSink(), shared) for name in "abc"], tmp_path)
    await run_batches(app, [EVENTS])
    assert CountingSerializer.calls == len(EVENTS)


async def test_batches_that_queue_go_out_together_up_to_the_limit(tmp_path):
    sink = ListSink()
    app = application([route("r", sink)], tmp_path)
    # The source submits all four batches before the route's worker first runs: they queue.
    app.sources = [BatchSource([EVENTS[:1], EVENTS, EVENTS, EVENTS])]
    pipeline = Pipeline(app)
    pipeline.delivery.batch_limit = 9
    await pipeline.run()
    assert sink.sent == [9, 4]
    assert [m.event.id for m in sink.delivered] == ["0"] + [e.id for e in EVENTS] * 3


async def test_retries_until_the_sink_recovers(tmp_path):
    sink = ListSink(failures=2)
    stats = await run_batches(application([route("r", sink, **{"max-attempts": 3})], tmp_path), [EVENTS])
    assert sink.attempts == 3 and len(sink.delivered) == 4
    assert (stats.routes["r"].retried, stats.routes["r"].failed) == (8, 0)


async def test_gives_up_after_max_attempts_and_dead_letters_without_stopping_other_routes(tmp_path):
    dead, alive = ListSink(failures=99), ListSink()
    app = application([route("dead", dead), route("alive", alive)], tmp_path)
    stats = await run_batches(app, [EVENTS, EVENTS])
    assert sum(dead.sent) == 3 * 8  # 3 attempts for each event
    assert stats.routes["dead"].dead_lettered == 8 and stats.failed == 8
    assert len(alive.delivered) == 8
    letters = list(deadletters.read(tmp_path / "dead-letters", "dead"))
    assert [letter.event["id"] for letter in letters] == ["0", "1", "2", "3"] * 2
    assert letters[0].attempts == 3 and letters[0].error == "ConnectionError: destination unreachable"
    assert stats.left_in_spool == 0


async def test_permanent_errors_are_not_retried(tmp_path):
    sink = ListSink(failures=99, error=PermanentError("bad topic"))
    stats = await run_batches(application([route("r", sink)], tmp_path), [EVENTS])
    assert sink.attempts == 1 and stats.routes["r"].dead_lettered == 4


async def test_retry_disabled_means_one_attempt(tmp_path):
    sink = ListSink(failures=1)
    stats = await run_batches(application([route("r", sink, enabled=False)], tmp_path), [EVENTS])
    assert sink.attempts == 1 and stats.routes["r"].failed == 4


async def test_exponential_backoff_is_capped():
    settings = RetrySettings.model_validate({"wait-duration": "100ms", "multiplier": 2, "max-wait-duration": "1s"})
    assert [settings.wait(n) for n in range(1, 7)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    jittered = RetrySettings.model_validate({"wait-duration": "1s", "jitter": 0.5})
    assert all(0.5 <= jittered.wait(1) <= 1.0 for _ in range(100))


async def test_unavailable_destinations_do_not_use_up_attempts(tmp_path):
    sink = ListSink(failures=6, error=Unavailable("connection refused"))
    stats = await run_batches(application([route("r", sink)], tmp_path), [EVENTS])
    assert sink.attempts == 7 and len(sink.delivered) == 4
    assert stats.routes["r"].dead_lettered == 0


async def test_a_sink_that_cannot_start_is_waited_for(tmp_path):
    class LateSink(ListSink):
        starts = 0

        async def start(self):
            LateSink.starts += 1
            if LateSink.starts < 3:
                raise OSError("not yet")

    sink = LateSink()
    await run_batches(application([route("r", sink)], tmp_path), [EVENTS])
    assert LateSink.starts == 3 and len(sink.delivered) == 4


async def test_per_message_results_retry_only_the_failed_messages(tmp_path):
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
    await run_batches(application([route("r", sink)], tmp_path), [EVENTS])
    assert [m.event.id for m in sink.delivered] == ["0", "2", "3", "1"]


async def test_a_poison_event_is_dead_lettered_and_the_rest_delivered(tmp_path):
    class PoisonSink(ListSink):
        async def send(self, messages):
            self.attempts += 1
            results = []
            for message in messages:
                if message.event.id == "1":
                    results.append(ValueError("rejected by the destination"))
                else:
                    self.delivered.append(message)
                    results.append(None)
            return results

    sink = PoisonSink()
    stats = await run_batches(application([route("r", sink)], tmp_path), [EVENTS, EVENTS[:1]])
    assert [m.event.id for m in sink.delivered] == ["0", "2", "3", "0"]
    assert [letter.event["id"] for letter in deadletters.read(tmp_path / "dead-letters")] == ["1"]
    assert stats.routes["r"].dead_lettered == 1


async def test_dead_letters_can_go_to_another_route(tmp_path):
    dead, dlq = ListSink(failures=99, error=PermanentError("no")), ListSink()
    dead_route = route("dead", dead, pattern="LOGOUT")
    dead_route.dead_letter = DeadLetterSettings(route="dlq")
    dlq_route = route("dlq", dlq, pattern="NOTHING")
    stats = await run_batches(application([dead_route, dlq_route], tmp_path), [EVENTS])
    assert [m.event.id for m in dlq.delivered] == ["1"]
    assert stats.routes["dead"].dead_lettered == 1 and stats.left_in_spool == 0
    assert not (tmp_path / "dead-letters").exists()


async def test_dead_letters_reach_their_route_in_the_same_run(tmp_path):
    # The source ends long before "a" gives up: the routes its dead letters go to keep running.
    a_sink, b_sink, c_sink = ListSink(failures=99), ListSink(failures=99), ListSink()
    retry = {"max-attempts": 3, "wait-duration": "50ms"}
    a = route("a", a_sink, pattern="LOGOUT", **retry)
    a.dead_letter = DeadLetterSettings(route="b")
    b = route("b", b_sink, pattern="NOTHING", **retry)
    b.dead_letter = DeadLetterSettings(route="c")
    stats = await run_batches(application([a, b, route("c", c_sink, pattern="NOTHING")], tmp_path), [EVENTS])
    assert (a_sink.attempts, b_sink.attempts) == (3, 3)
    assert [m.event.id for m in c_sink.delivered] == ["1"]
    assert (stats.routes["a"].dead_lettered, stats.routes["b"].dead_lettered, stats.routes["c"].delivered) == (1, 1, 1)
    assert stats.left_in_spool == 0


async def test_a_hook_decides_on_errors(tmp_path):
    class GiveUpOnTimeouts:
        @hookimpl
        def kete_on_emit_error(self, route, messages, error, attempt):
            return ErrorAction.GIVE_UP if isinstance(error, TimeoutError) else None

    pm = plugin_manager(load_entry_points=False)
    pm.register(GiveUpOnTimeouts(), name="give-up")
    sink = ListSink(failures=1, error=TimeoutError("slow"))
    stats = await run_batches(application([route("r", sink)], tmp_path, pm), [EVENTS])
    assert sink.attempts == 1 and stats.routes["r"].failed == 4


async def test_a_full_spool_slows_the_source_down(tmp_path):
    release = asyncio.Event()
    progress: list[int] = []

    class BlockedSink(ListSink):
        async def send(self, messages):
            await release.wait()
            return await super().send(messages)

    class Watched(BatchSource):
        async def run(self, intake):
            for index, batch in enumerate(self.batches):
                await intake.submit(batch)
                progress.append(index)

    sink = BlockedSink()
    app = application([route("r", sink)], tmp_path, **{"spool-max-events": 2})
    app.sources = [Watched([[event] for event in EVENTS])]
    running = asyncio.create_task(Pipeline(app).run())
    await asyncio.sleep(0.1)
    assert progress == [0, 1], "the third submit must wait while the spool is full"
    release.set()
    stats = await running
    assert progress == [0, 1, 2, 3] and len(sink.delivered) == 4 and stats.left_in_spool == 0


async def test_a_down_route_holds_up_no_other_and_reads_back_from_the_spool_in_order(tmp_path):
    release = asyncio.Event()

    class DownSink(ListSink):
        async def send(self, messages):
            if not release.is_set():
                raise Unavailable("connection refused")
            return await super().send(messages)

    down, fast = DownSink(), ListSink()
    batches = [[parse_event({"type": "LOGIN", "id": f"{b}-{i}"}) for i in range(3)] for b in range(50)]
    app = application(
        [route("down", down, **{"wait-duration": "10ms"}), route("fast", fast)], tmp_path, **{"queue-size": 2}
    )
    app.sources = [BatchSource(batches)]
    pipeline = Pipeline(app)
    running = asyncio.create_task(pipeline.run())
    await asyncio.sleep(0.3)
    assert len(fast.delivered) == 150, "a route whose destination is down does not hold up the others"
    assert pipeline.delivery.by_name["down"].overflowed
    release.set()
    await running
    assert [m.event.id for m in down.delivered] == [f"{b}-{i}" for b in range(50) for i in range(3)]


async def test_a_slow_route_slows_the_source_instead_of_piling_up(tmp_path):
    release = asyncio.Event()
    submitted: list[int] = []

    class SlowSink(ListSink):
        async def send(self, messages):
            await release.wait()
            return await super().send(messages)

    class Counting(BatchSource):
        async def run(self, intake):
            for index, batch in enumerate(self.batches):
                await intake.submit(batch)
                submitted.append(index)

    slow = SlowSink()
    app = application([route("slow", slow)], tmp_path, **{"queue-size": 2})
    app.sources = [Counting([[event] for event in EVENTS] * 3)]
    pipeline = Pipeline(app)
    running = asyncio.create_task(pipeline.run())
    await asyncio.sleep(0.1)
    assert len(submitted) <= 4, "at most the batch in delivery and a full queue are accepted ahead"
    release.set()
    await running
    assert len(slow.delivered) == 12 and not pipeline.delivery.by_name["slow"].overflowed


async def test_undelivered_events_survive_a_restart(tmp_path):
    spool_path = tmp_path / "spool.sqlite"

    class StopSink(ListSink):
        pipeline: Pipeline | None = None

        async def send(self, messages):
            self.attempts += 1
            assert self.pipeline is not None
            self.pipeline.request_stop()
            self.pipeline.request_stop()
            raise Unavailable("going down")

    first = StopSink()
    app = application([route("r", first)], tmp_path, spool="disk")
    app.sources = [BatchSource([EVENTS])]
    pipeline = Pipeline(app, Spool(spool_path, ["r"]))
    first.pipeline = pipeline
    stats = await pipeline.run()
    assert stats.left_in_spool == 4 and not first.delivered

    second = ListSink()
    app = application([route("r", second)], tmp_path)
    stats = await run_batches(app, [], Spool(spool_path, ["r"]))
    assert [m.event.id for m in second.delivered] == ["0", "1", "2", "3"]
    assert stats.left_in_spool == 0
    assert Spool(spool_path, ["r"]).depth == 0
    # The summary does not say the route delivered more than it matched (issue 16 item 11).
    assert (stats.routes["r"].matched, stats.routes["r"].resumed, stats.routes["r"].delivered) == (0, 4, 4)
    assert "route r: 0 matched, 4 resumed from an earlier run, 4 delivered, 0 failed" in summary(app, stats)


def test_segment_files_go_once_every_route_is_done_with_them(tmp_path, monkeypatch):
    monkeypatch.setattr(spool_module, "_SEGMENT_SIZE", 1)  # a segment per batch
    spool = Spool(tmp_path / "spool.sqlite", ["a", "b"])
    for _ in range(3):
        spool.append(EVENTS, [0b11] * len(EVENTS))
    assert len(list(spool.segments.glob("*.seg"))) == 3
    spool.mark_done("a", 3)
    spool.mark_done("b", 1)
    spool.compact()
    # Batch 1 is done for both routes; 2 and 3 are still needed by "b".
    assert sorted(path.stem.lstrip("0") for path in spool.segments.glob("*.seg")) == ["2", "3"]
    assert [event.id for _, event in spool.read("b", 1, 100)] == [event.id for event in EVENTS] * 2
    spool.mark_done("b", 3)
    spool.compact()
    assert [path.stem.lstrip("0") for path in spool.segments.glob("*.seg")] == ["3"]  # being written
    spool.close()


def test_the_spool_format_stays_as_it_is(tmp_path):
    # Spool files outlive upgrades: the bytes of a batch, its row and the tables must not change.
    names = {"id-a": "acme", "id-m": "master"}
    events = [
        parse_event({"type": "LOGIN", "id": "1", "realmId": "id-a", "time": 5}, names),
        parse_event({"resourceType": "USER", "operationType": "CREATE", "realmId": "id-a",
                     "authDetails": {"realmId": "id-m"}}, names),
    ]  # fmt: skip
    spool = Spool(tmp_path / "spool.sqlite", ["r", "q"])
    spool.append(events, [1, 3], ("src", b"pos"))
    spool.close()
    segment = tmp_path / "segments" / "00000000000000000001.seg"
    assert segment.read_bytes() == (
        b'[[1,"acme",null,{"type":"LOGIN","id":"1","realmId":"id-a","time":5}],'
        b'[3,"acme","master",{"resourceType":"USER","operationType":"CREATE","realmId":"id-a",'
        b'"authDetails":{"realmId":"id-m"}}]]'
    )
    db = sqlite3.connect(tmp_path / "spool.sqlite")
    tables = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
    assert tables["batches"] == (
        "CREATE TABLE batches (\n    seq INTEGER PRIMARY KEY,\n    routes INTEGER NOT NULL,\n"
        "    count INTEGER NOT NULL,\n    accepted REAL NOT NULL,\n    body BLOB NOT NULL,\n"
        "    segment INTEGER,\n    offset INTEGER,\n    length INTEGER\n)"
    )
    assert (
        tables["routes"]
        == "CREATE TABLE routes (name TEXT PRIMARY KEY, bit INTEGER NOT NULL UNIQUE, done INTEGER NOT NULL)"
    )
    assert tables["checkpoints"] == "CREATE TABLE checkpoints (source TEXT PRIMARY KEY, position BLOB NOT NULL)"
    assert "rejected" in tables
    batches = "SELECT seq, routes, count, body, segment, offset, length FROM batches"
    assert db.execute(batches).fetchall() == [(1, 3, 2, b"", 1, 0, 188)]
    assert db.execute("SELECT * FROM routes").fetchall() == [("r", 0, 0), ("q", 1, 0)]
    assert db.execute("SELECT * FROM checkpoints").fetchall() == [("src", b"pos")]
    db.close()


def test_spooled_events_come_back_with_the_realm_names_they_were_routed_with(tmp_path):
    known = {"id-a": "acme", "id-m": "master"}
    events = [
        parse_event({"type": "LOGIN", "realmId": "id-a"}, known),  # the name from the source
        parse_event({"type": "LOGIN", "realmId": "id-a", "realmName": "carried"}, known),
        parse_event({"type": "LOGIN", "realmId": "id-x"}, known),  # no name known: the id
        parse_event(
            {"resourceType": "USER", "operationType": "CREATE", "realmId": "id-a", "realmName": "carried",
             "authDetails": {"realmId": "id-a", "userId": "u"}},
            known,
        ),  # the admin's realm: same id, named only by the source
        parse_event(
            {"resourceType": "USER", "operationType": "CREATE", "realmId": "id-a",
             "authDetails": {"realmId": "id-m", "realmName": "own"}},
            known,
        ),
    ]  # fmt: skip
    spool = Spool(tmp_path / "spool.sqlite", ["r"])
    spool.append(events, [1] * len(events))
    spool.close()
    spool = Spool(tmp_path / "spool.sqlite", ["r"])
    back = [event for _, event in spool.read("r", 0, 100)]
    spool.close()
    expected = [(e.realm, e.realm_name, e.auth_realm_name, e.to_kete()) for e in events]
    assert [(e.realm, e.realm_name, e.auth_realm_name, e.to_kete()) for e in back] == expected
    assert [e.realm for e in back] == ["acme", "carried", "id-x", "carried", "acme"]
    assert back[3].auth_realm_name == "acme" and back[4].auth_realm_name == "own"
    assert all(e.data == original.data for e, original in zip(back, events, strict=True))


def test_a_batch_lost_from_its_segment_is_reported_not_fatal(tmp_path, caplog):
    spool = Spool(tmp_path / "spool.sqlite", ["r"])
    spool.append(EVENTS, [1] * len(EVENTS))
    spool.append(EVENTS, [1] * len(EVENTS))
    first = next(spool.segments.glob("*.seg"))
    first.write_bytes(first.read_bytes()[:10])  # as after a power loss with spool-sync = "normal"
    assert spool.read("r", 0, 100) == []
    assert "batch 1 cannot be read" in caplog.text and "batch 2 cannot be read" in caplog.text
    spool.close()


async def test_receipts_resolve_only_after_delivery(tmp_path):
    release = asyncio.Event()
    seen: list[bool] = []

    class SlowSink(ListSink):
        async def send(self, messages):
            await release.wait()
            return await super().send(messages)

    class Checking(BatchSource):
        async def run(self, intake):
            receipt = await intake.submit(EVENTS)
            await asyncio.sleep(0.01)
            seen.append(receipt.done.done())
            release.set()
            await receipt.done
            seen.append(True)
            unmatched = await intake.submit([])
            seen.append(unmatched.done.done())

    app = application([route("r", SlowSink())], tmp_path)
    app.sources = [Checking([])]
    await Pipeline(app).run()
    assert seen == [False, True, True]


class Picky(CountingSerializer):
    def serialize(self, event: Event) -> bytes:
        if event.event_type == "LOGOUT":
            raise ValueError("cannot write LOGOUT")
        return super().serialize(event)


async def test_a_failing_serializer_fails_only_that_event(tmp_path):
    sink = ListSink()
    stats = await run_batches(application([route("r", sink, Picky(ComponentConfig()))], tmp_path), [EVENTS])
    assert len(sink.delivered) == 3 and stats.routes["r"].failed == 1


async def test_a_batch_serializer_that_fails_or_miscounts_falls_back_to_one_event_at_a_time(tmp_path):
    class FailingBatch(Picky):
        def serialize_batch(self, events):
            raise ValueError("the batch has a LOGOUT")

    class Miscounting(CountingSerializer):
        def serialize_batch(self, events):
            return super().serialize_batch(events)[1:]

    failing, miscounting = ListSink(), ListSink()
    routes = [
        route("failing", failing, FailingBatch(ComponentConfig())),
        route("miscounting", miscounting, Miscounting(ComponentConfig())),
    ]
    stats = await run_batches(application(routes, tmp_path), [EVENTS])
    assert [m.event.event_type for m in failing.delivered] == [e.event_type for e in EVENTS if e.event_type != "LOGOUT"]
    assert stats.routes["failing"].failed == 1
    assert [m.payload for m in miscounting.delivered] == [orjson.dumps(e.to_kete()) for e in EVENTS]


async def test_intake_reports_congestion_when_the_spool_is_full(tmp_path):
    release = asyncio.Event()
    observed: list[bool] = []

    class BlockedSink(ListSink):
        async def send(self, messages):
            await release.wait()
            return await super().send(messages)

    class Probe(BatchSource):
        async def run(self, intake):
            observed.append(intake.congested)
            await intake.submit(EVENTS[:2])
            observed.append(intake.congested)
            release.set()

    app = application([route("r", BlockedSink())], tmp_path, **{"spool-max-events": 2})
    app.sources = [Probe([])]
    await Pipeline(app).run()
    assert observed == [False, True]


async def test_ready_reports_unavailable_destinations(tmp_path):
    import json
    import urllib.error
    import urllib.request

    from tests.test_reliability import free_port

    port = free_port()
    seen: list[tuple[int, dict]] = []

    def ready() -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    class Flaky(ListSink):
        async def send(self, messages):
            self.attempts += 1
            if self.attempts <= 3:
                raise Unavailable("connection refused by 127.0.0.1:9")
            return await super().send(messages)

    class Probe(BatchSource):
        async def run(self, intake):
            await intake.submit(EVENTS)
            pipeline.observability.update(pipeline.status())
            while sink.attempts < 2:
                await asyncio.sleep(0.01)
            pipeline.observability.update(pipeline.status())
            seen.append(await asyncio.to_thread(ready))
            await intake.submit([])

    sink = Flaky()
    app = application(
        [route("r", sink, **{"wait-duration": "200ms"})],
        tmp_path,
        metrics={"enabled": True, "address": f"127.0.0.1:{port}"},
    )
    app.sources = [Probe([])]
    pipeline = Pipeline(app)
    await pipeline.run()
    status, body = seen[0]
    assert status == 503 and body["not_ready"] == {"route r": "connection refused by 127.0.0.1:9"}
    assert len(sink.delivered) == 4


async def test_a_destination_asking_to_wait_longer_is_honoured(tmp_path):
    class Busy(ListSink):
        async def send(self, messages):
            self.attempts += 1
            self.times.append(time.monotonic())
            if self.attempts == 1:
                error = ConnectionError("429 Too Many Requests")
                error.retry_after = 0.3  # type: ignore[attr-defined]
                raise error
            return await super().send(messages)

    sink = Busy()
    sink.times = []
    await run_batches(application([route("r", sink, **{"wait-duration": "1ms"})], tmp_path), [EVENTS])
    assert sink.times[1] - sink.times[0] >= 0.3 and len(sink.delivered) == 4
