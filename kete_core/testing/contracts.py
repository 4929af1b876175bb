"""Contract test classes: what every source, sink, matcher, serializer and renderer promises.

A plugin's tests subclass the class of its component (``class TestFileSink(SinkContract)``),
name its ``kind`` and supply a few fixtures; pytest then runs every check of the contract against
the real component. The base classes have no ``Test`` prefix, so pytest collects them only
through a subclass. Components are loaded by ``kind`` through their entry points, exactly as kete
loads them; the checks that run kete itself use the real pipeline with an in-memory counterpart
(:mod:`kete_core.testing.memory`). "Testing your plugin" in ``docs/writing-plugins.md`` lists what
each class asks for.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

import orjson
import pytest

from kete_core.application import Application
from kete_core.builtins.json_serializer import JsonSerializer
from kete_core.builtins.kete_renderer import KeteRenderer
from kete_core.config.tree import canonical
from kete_core.contracts import (
    ComponentConfig,
    DeliveryResults,
    Matcher,
    Message,
    Renderer,
    Serializer,
    Sink,
    SinkContext,
)
from kete_core.discovery import load
from kete_core.errors import PermanentError, RenderError, Unavailable
from kete_core.event import Event, parse_event
from kete_core.pipeline import Pipeline
from kete_core.status import RunStats
from kete_core.testing.memory import MemorySink, MemorySource, memory_kinds
from kete_core.testing.recorder import HookRecorder
from kete_core.testing.runner import load_app
from kete_core.validation import validate_settings

ReadBack = Callable[[], "Sequence[bytes] | Awaitable[Sequence[bytes]]"]
"""What a sink's ``read_back`` fixture returns: a function giving every payload the destination
holds, in the order it received them (it may be a coroutine function)."""

Feed = Callable[[Sequence[bytes]], "Awaitable[None] | None"]
"""What a source's ``feed`` fixture returns: a function handing raw records (one JSON event per
record, or malformed input) to the source's upstream, as a producer would."""


# --------------------------------------------------------------------------- events


def user_event(number: int = 1, *, realm: str = "acme", event_type: str = "LOGIN", **fields: Any) -> dict[str, Any]:
    """A Keycloak user event as JSON (``id`` ``"e<number>"``)."""
    return {
        "id": f"e{number}",
        "time": 1_700_000_000_000 + number,
        "type": event_type,
        "realmId": f"{realm}-id",
        "realmName": realm,
        "clientId": "account",
        "userId": f"user-{number}",
        "ipAddress": "127.0.0.1",
        **fields,
    }


def admin_event(number: int = 1, *, realm: str = "acme", **fields: Any) -> dict[str, Any]:
    """A Keycloak admin event as JSON (``USER`` ``CREATE``)."""
    return {
        "id": f"a{number}",
        "time": 1_700_000_000_000 + number,
        "realmId": f"{realm}-id",
        "realmName": realm,
        "authDetails": {"realmId": "master-id", "realmName": "master", "clientId": "admin-cli", "userId": "root"},
        "resourceType": "USER",
        "operationType": "CREATE",
        "resourcePath": f"users/user-{number}",
        "representation": '{"username":"new"}',
        **fields,
    }


def sample_events() -> list[Event]:
    """Events of every shape a component meets: user and admin events, errors with details, a
    realm known only by id, unicode values (in details; unicode realms are among the poison)."""
    return [
        parse_event(user_event(1)),
        parse_event(user_event(2, event_type="LOGIN_ERROR", error="invalid_user_credentials", details={"a": "b"})),
        parse_event(admin_event(3)),
        parse_event(admin_event(4, resourceType="REALM_ROLE_MAPPING", operationType="DELETE")),
        parse_event(user_event(5, realm="Other-Realm", details={"username": "zoë 日本 \u2028"})),
        parse_event({k: v for k, v in user_event(6, event_type="CLIENT_LOGIN").items() if k != "realmName"}),
    ]


def poison_events() -> list[Event]:
    """Events whose values break naive rendering or encoding: a NUL byte, ``..``, a line break, a
    path separator, an overlong name and non-ASCII letters with a space in the realm or type (all
    of them valid JSON, so any source may hand them to kete)."""
    return [
        parse_event(user_event(901, realm="bad\x00realm")),
        parse_event(user_event(902, realm="..")),
        parse_event(user_event(903, realm="line\nbreak")),
        parse_event(user_event(904, realm="a/b")),
        parse_event(user_event(905, event_type="LOG\x00IN")),
        parse_event(user_event(906, realm="x" * 300)),
        parse_event(user_event(907, realm="Ünïcødé realm")),
    ]


def json_messages(events: Sequence[Event]) -> list[Message]:
    """Messages as the built-in ``json`` serializer writes them (for events it can write)."""
    messages = []
    for event in events:
        try:
            payload = orjson.dumps(event.to_kete())
        except TypeError:
            payload = json.dumps(event.to_kete()).encode()
        messages.append(Message(event, payload, JsonSerializer.content_type))
    return messages


# --------------------------------------------------------------------------- building


def sink_context(route: str = "contract", serializer: Serializer | None = None) -> SinkContext:
    """What kete hands a sink: the built-in renderer and (by default) the ``json`` serializer."""
    return SinkContext(
        route=route,
        path=f"routes.{route}.destination",
        renderer=KeteRenderer(ComponentConfig(), {}),
        serializer=serializer or JsonSerializer(ComponentConfig()),
    )


def build_sink(kind: str, settings: Mapping[str, Any], route: str = "contract") -> Sink:
    """The sink *kind* (found as kete finds it) with *settings* (kebab-case keys, as in a file)."""
    cls, info = load("sink", kind, path=f"routes.{route}.destination.kind")
    # As from a file: ``bootstrap.servers`` means the tree ``{"bootstrap": {"servers": ...}}``.
    config = validate_settings(cls.Config, canonical(dict(settings)), f"routes.{route}.destination", info)
    sink: Sink = cls(config, sink_context(route))
    return sink


def json_message(number: int = 1, **fields: Any) -> Message:
    """The user event :func:`user_event` makes (``realm=``, ``event_type=`` and other fields as
    there) as the ``json`` serializer's message."""
    return json_messages([parse_event(user_event(number, **fields))])[0]


@contextlib.asynccontextmanager
async def sink_builder(kind: str, route: str = "r") -> AsyncIterator[Callable[..., Sink]]:
    """Build sinks of *kind*: ``build(**settings)`` (kebab-case keys, as in a file, passed with
    ``**{"timeout-seconds": 2}``); settings errors name ``routes.<route>.destination``. Every sink
    built is closed on leaving."""
    sinks: list[Sink] = []

    def build(**settings: Any) -> Sink:
        sink = build_sink(kind, settings, route)
        sinks.append(sink)
        return sink

    try:
        yield build
    finally:
        for sink in sinks:
            await sink.close()


class Stoppable(Protocol):
    """A test server: ``await server.stop()`` stops it."""

    async def stop(self) -> None: ...


ServerT = TypeVar("ServerT", bound=Stoppable)


@contextlib.asynccontextmanager
async def started_servers(
    start: Callable[..., Awaitable[ServerT]],
) -> AsyncIterator[Callable[..., Awaitable[ServerT]]]:
    """Start test servers with ``await start(...)`` (the arguments go to *start*); every one started
    is stopped on leaving. A fixture's whole body::

        async with started_servers(lambda **settings: EchoServer(**settings).start()) as start:
            yield start
    """
    servers: list[ServerT] = []

    async def started(*args: Any, **kwargs: Any) -> ServerT:
        server = await start(*args, **kwargs)
        servers.append(server)
        return server

    try:
        yield started
    finally:
        for server in servers:
            await server.stop()


async def send_once(sink: Sink, messages: Sequence[Message]) -> DeliveryResults:
    """Start *sink*, send *messages* as one batch and close it, whatever happens; return what
    :meth:`~kete_core.Sink.send` returned (None when every message was delivered)."""
    await sink.start()
    try:
        return await sink.send(messages)
    finally:
        await sink.close()


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Path):
        return json.dumps(str(value))
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{json.dumps(str(key))} = {_toml(item)}" for key, item in value.items()) + "}"
    if isinstance(value, Sequence):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def write_config(path: Path, tree: Mapping[str, Mapping[str, Any]]) -> Path:
    """Write a configuration tree (``{"kete": {...}, "sources": {...}, "routes": {...}}``) as TOML."""
    lines = []
    for section, table in tree.items():
        if section == "kete":
            lines.append("[kete]")
            lines.extend(f"{json.dumps(key)} = {_toml(value)}" for key, value in table.items())
            continue
        for name, settings in table.items():
            lines.append(f"[{section}.{json.dumps(name)}]")
            lines.extend(f"{json.dumps(key)} = {_toml(value)}" for key, value in settings.items())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def replay_config(
    folder: Path,
    destination: Mapping[str, Any],
    *,
    route: str = "r",
    follow: bool = False,
    metrics_port: int | None = None,
    retry: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``folder/kete.toml``: the ``file`` source ``replay`` reading ``folder/events.jsonl``
    (polled every 50 ms; ``follow`` to keep reading what is appended) into one route *route* to
    *destination* (its ``kind`` and settings), retrying from 200 ms to 1 s unless *retry* says
    otherwise; kete's data in ``folder/data``, its metrics endpoint on *metrics_port* when given."""
    kete: dict[str, Any] = {"data-dir": folder / "data"}
    if metrics_port is not None:
        kete["metrics"] = {"enabled": True, "address": f"127.0.0.1:{metrics_port}"}
    source = {"kind": "file", "path": folder / "events.jsonl", "follow": follow, "poll-interval": "50ms"}
    settings = {"retry": retry or {"wait-duration": "200ms", "max-wait-duration": "1s"}, "destination": destination}
    return write_config(
        folder / "kete.toml", {"kete": kete, "sources": {"replay": source}, "routes": {route: settings}}
    )


def replay_properties(folder: Path, *lines: str) -> Path:
    """Write ``folder/kete.properties``, KETE's own format: kete's data in ``folder/data``, the
    ``file`` source ``replay`` reading ``folder/events.jsonl``, then *lines* (``kete.routes.*``
    keys as KETE's documentation writes them; a line may hold several)."""
    path = folder / "kete.properties"
    head = [
        f"kete.data-dir={folder / 'data'}",
        "kete.sources.replay.kind=file",
        f"kete.sources.replay.path={folder / 'events.jsonl'}",
    ]
    path.write_text("\n".join([*head, *lines]) + "\n", encoding="utf-8")
    return path


async def _value(result: Any) -> Any:
    return await result if inspect.isawaitable(result) else result


async def _wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


class Run:
    """One run of kete in the test's event loop: started by :func:`running`, stopped at the end of
    the ``async with`` block (as SIGTERM would), its counters in :attr:`stats`."""

    def __init__(self, app: Application) -> None:
        self.app = app
        self.pipeline = Pipeline(app)
        self.task = asyncio.ensure_future(self.pipeline.run())
        self.stats: RunStats | None = None

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 30.0) -> bool:
        """Wait until *condition* holds or kete ends; False when *timeout* passed first."""
        return await _wait_for(lambda: condition() or self.task.done(), timeout)

    async def stop(self) -> RunStats:
        """Stop the sources, deliver what was accepted and return the run's counters."""
        if not self.task.done():
            self.pipeline.request_stop()
        return await self.finish()

    async def finish(self) -> RunStats:
        """Wait until the sources end by themselves and everything is delivered; the counters."""
        self.stats = await self.task
        return self.stats


class running:
    """``async with running(app) as run:``: kete runs *app* in this event loop until the block ends."""

    def __init__(self, app: Application) -> None:
        self.app = app
        self.run: Run | None = None

    async def __aenter__(self) -> Run:
        self.run = Run(self.app)
        return self.run

    async def __aexit__(self, *exc_info: object) -> None:
        assert self.run is not None
        await self.run.stop()


class _Contract:
    """What every contract class shares: the in-memory kinds and a temporary data dir."""

    @pytest.fixture(autouse=True)
    def _memory_kinds(self) -> Iterator[None]:
        with memory_kinds():
            yield

    def app(
        self,
        directory: Path,
        sources: Mapping[str, Any],
        routes: Mapping[str, Any],
        recorder: HookRecorder | None = None,
    ) -> Application:
        """Assemble a configuration of *sources* and *routes* with its data dir in *directory*."""
        directory.mkdir(parents=True, exist_ok=True)
        tree = {"kete": {"data-dir": str(directory / "data")}, "sources": sources, "routes": routes}
        path = write_config(directory / "contract.toml", tree)
        return load_app(path, {}, plugins=[recorder] if recorder else ())


# --------------------------------------------------------------------------- sinks


class SinkContract(_Contract):
    """The promises of a :class:`~kete_core.Sink`.

    Supply:

    - ``kind``: the sink's entry-point name;
    - fixture ``sink_settings``: settings reaching a live destination; use a template on the realm
      (``${realmLowerCase}``) in what the sink renders (path, topic, URL), so poison values reach it;
    - fixture ``read_back``: a function returning every payload the destination received, in
      order (None for a sink that keeps nothing, such as ``discard``);
    - fixture ``unreachable_settings`` (optional): settings naming a destination that cannot be
      reached (a closed port); without it that check is skipped.

    Override :meth:`poison` to add events that are poison for this sink in particular.
    """

    kind: ClassVar[str]
    timeout: ClassVar[float] = 60.0
    """Seconds a check waits for kete or the destination."""
    ordered: ClassVar[bool] = True
    """Whether the destination keeps the order a batch was sent in; False for one that promises no
    order (Cloud Tasks' tasks, created by calls in flight at once): what arrived is then compared
    as a multiset, every message still exactly once."""

    def _assert_arrived(self, got: list[bytes], expected: list[bytes]) -> None:
        if self.ordered:
            assert got == expected
        else:
            assert sorted(got) == sorted(expected)

    @pytest.fixture
    def unreachable_settings(self) -> Mapping[str, Any]:
        pytest.skip(f"{type(self).__name__} supplies no unreachable_settings fixture")

    def poison(self) -> list[Event]:
        """Events some destinations cannot take; each must be delivered or fail alone."""
        return poison_events()

    async def _read(self, read_back: ReadBack | None) -> list[bytes] | None:
        if read_back is None:
            return None
        return [bytes(payload) for payload in await _value(read_back())]

    async def _send(self, sink: Sink, messages: Sequence[Message]) -> list[BaseException | None]:
        results = await sink.send(messages)
        assert results is None or len(results) == len(messages), (
            f"send returned {len(results)} results for {len(messages)} messages"
        )
        return [None] * len(messages) if results is None else list(results)

    async def _wait_read(self, read_back: ReadBack | None, count: int) -> list[bytes] | None:
        got = await self._read(read_back)
        deadline = time.monotonic() + self.timeout
        while got is not None and len(got) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            got = await self._read(read_back)
        return got

    @pytest.mark.asyncio
    async def test_delivers_every_message_in_order(
        self, sink_settings: Mapping[str, Any], read_back: ReadBack | None
    ) -> None:
        sink = build_sink(self.kind, sink_settings)
        batches = [json_messages([parse_event(user_event(n)) for n in range(start, start + 5)]) for start in (1, 6)]
        await sink.start()
        try:
            for batch in batches:
                assert await self._send(sink, batch) == [None] * len(batch)
        finally:
            await sink.close()
        got = await self._wait_read(read_back, 10)
        if got is not None:
            self._assert_arrived(got, [message.payload for batch in batches for message in batch])

    @pytest.mark.asyncio
    async def test_delivers_every_shape_of_event(
        self, sink_settings: Mapping[str, Any], read_back: ReadBack | None
    ) -> None:
        sink = build_sink(self.kind, sink_settings)
        messages = json_messages(sample_events())
        await sink.start()
        try:
            assert await self._send(sink, messages) == [None] * len(messages)
        finally:
            await sink.close()
        got = await self._wait_read(read_back, len(messages))
        if got is not None:
            assert Counter(got) == Counter(message.payload for message in messages)

    @pytest.mark.asyncio
    async def test_a_poison_event_fails_alone(
        self, sink_settings: Mapping[str, Any], read_back: ReadBack | None
    ) -> None:
        good = [parse_event(user_event(n)) for n in range(1, 4)]
        poison = self.poison()
        messages = json_messages([good[0], *poison[: len(poison) // 2], good[1], *poison[len(poison) // 2 :], good[2]])
        sink = build_sink(self.kind, sink_settings)
        await sink.start()
        try:
            results = await self._send(sink, messages)
            failed = [message for message, result in zip(messages, results, strict=True) if result is not None]
            assert all(message.event not in good for message in failed), (
                f"valid events failed with a poison event: {[r for r in results if r is not None]}"
            )
            assert not any(isinstance(result, Unavailable) for result in results), "a poison event is not an outage"
            if failed:
                # kete retries only the failed messages: the valid ones must not be written again.
                await self._send(sink, failed)
        finally:
            await sink.close()
        payloads = {message.payload for message in json_messages(good)}
        got = await self._wait_read(read_back, len(messages) - len(failed))
        if got is not None:
            self._assert_arrived(
                [payload for payload in got if payload in payloads], [m.payload for m in json_messages(good)]
            )

    @pytest.mark.asyncio
    async def test_kete_delivers_the_rest_of_a_batch_with_a_poison_event(
        self, tmp_path: Path, sink_settings: Mapping[str, Any], read_back: ReadBack | None
    ) -> None:
        good = [user_event(n) for n in range(1, 6)]
        records = [*good[:2], *[event.data for event in self.poison()], *good[2:]]
        route = {
            "destination": {"kind": self.kind, **sink_settings},
            "retry": {"max-attempts": 2, "wait-duration": "10ms"},
        }
        app = self.app(tmp_path / "kete", {"in": {"kind": "memory"}}, {"contract": route})
        source = app.sources[0]
        assert isinstance(source, MemorySource)
        source.put(*records)
        stats = await Run(app).finish()
        route_stats = stats.routes["contract"]
        assert route_stats.delivered >= len(good)
        assert route_stats.delivered + route_stats.failed == len(records)
        assert stats.left_in_spool == 0
        got = await self._wait_read(read_back, route_stats.delivered)
        if got is not None:
            expected = [m.payload for m in json_messages([parse_event(event) for event in good])]
            assert [payload for payload in got if payload in set(expected)] == expected, "valid events written twice"

    @pytest.mark.asyncio
    async def test_an_event_with_no_value_for_its_address_fails_alone(
        self, sink_settings: Mapping[str, Any], read_back: ReadBack | None
    ) -> None:
        """An address (compiled with ``context.address``) using ``${realm...}``: an event with no
        realm has no value for it, so it fails alone with a RenderError, never delivered to an
        address with a literal ``${...}`` in it."""
        sink = build_sink(self.kind, sink_settings)
        if not any(name.startswith("realm") for t in sink.context.addresses.values() for name in t.variables):
            pytest.skip("no address of this sink uses a realm variable")
        good = [parse_event(user_event(n)) for n in (1, 2)]
        nameless = parse_event({k: v for k, v in user_event(3).items() if k not in ("realmName", "realmId")})
        messages = json_messages([good[0], nameless, good[1]])
        await sink.start()
        try:
            results = await self._send(sink, messages)
        finally:
            await sink.close()
        assert results[0] is None and results[2] is None, f"valid events failed: {results}"
        assert isinstance(results[1], RenderError), f"an event with no realm gave {results[1]!r}, not a RenderError"
        got = await self._wait_read(read_back, 2)
        if got is not None:
            self._assert_arrived(got, [message.payload for message in json_messages(good)])

    @pytest.mark.asyncio
    async def test_an_unreachable_destination_is_unavailable(self, unreachable_settings: Mapping[str, Any]) -> None:
        sink = build_sink(self.kind, unreachable_settings)
        messages = json_messages([parse_event(user_event(1))])
        try:
            await asyncio.wait_for(sink.start(), self.timeout)
        except Exception as exc:  # kete counts a sink that cannot start as unavailable
            assert not isinstance(exc, PermanentError), f"start() raised a permanent error: {exc!r}"
            return
        try:
            with pytest.raises(Unavailable):
                results = await asyncio.wait_for(sink.send(messages), self.timeout)
                raise AssertionError(f"send to an unreachable destination returned {results!r}, not Unavailable")
        finally:
            await sink.close()

    @pytest.mark.asyncio
    async def test_closes_cleanly_and_twice(self, sink_settings: Mapping[str, Any], read_back: ReadBack | None) -> None:
        sink = build_sink(self.kind, sink_settings)
        await sink.start()
        assert await self._send(sink, json_messages([parse_event(user_event(1))])) == [None]
        await sink.close()
        await sink.close()
        got = await self._wait_read(read_back, 1)
        if got is not None:
            assert len(got) == 1


# --------------------------------------------------------------------------- sources


class SourceContract(_Contract):
    """The promises of a :class:`~kete_core.Source`, checked by running kete with the source and an
    in-memory sink.

    Supply:

    - ``kind``: the source's entry-point name;
    - fixture ``source_settings``: settings of a source that keeps reading until kete stops
      (``follow = true`` for a file); each call of the fixture within a test gives the same upstream;
    - fixture ``feed``: a function handing raw records (``bytes``, one JSON event each, or malformed
      input) to that upstream; it may be a coroutine function and is called while kete runs.
      A source whose upstream makes its own events overrides :meth:`records` and :meth:`identity`.

    ``duplicates_after_restart`` is how many events a restart may deliver again (0: exactly once
    across a clean stop, as kete's checkpoints promise).
    """

    kind: ClassVar[str]
    timeout: ClassVar[float] = 60.0
    duplicates_after_restart: ClassVar[int] = 0
    malformed: ClassVar[tuple[bytes, ...]] = (b"not json", b"[1, 2]", b'{"no": "type"}', b'{"type": 7}')
    """Records that are not events; each must be rejected with a reason (empty: the upstream cannot
    carry malformed records, e.g. a server that makes its own events)."""

    def records(self, first: int, count: int) -> list[bytes]:
        """*count* records for the upstream, numbered from *first*: by default one JSON user event
        each. A source whose upstream makes its own events (Keycloak) returns what ``feed`` needs to
        cause one event each, and overrides :meth:`identity`."""
        return [orjson.dumps(user_event(number)) for number in range(first, first + count)]

    def identity(self, event: dict[str, Any], record: bytes) -> bool:
        """Whether the delivered *event* is the one *record* caused (by default: the same ``id``)."""
        return bool(event.get("id") == orjson.loads(record)["id"])

    def _matches(self, events: Sequence[dict[str, Any]], records: Sequence[bytes]) -> Counter[bytes]:
        """How often each of *records* arrived among *events* (others, from a shared upstream, are ignored)."""
        return Counter(record for event in events for record in records if self.identity(event, record))

    async def _run(
        self,
        directory: Path,
        settings: Mapping[str, Any],
        feed: Feed,
        records: Sequence[bytes],
        wanted: Sequence[bytes],
    ) -> tuple[list[dict[str, Any]], RunStats, HookRecorder]:
        """Run kete with the source, feed *records*, stop once every one of *wanted* arrived; the
        events the run delivered, its counters and its hook calls."""
        recorder = HookRecorder()
        route = {"destination": {"kind": "memory", "store": f"contract-{id(self)}"}}
        app = self.app(directory, {"under-test": {"kind": self.kind, **settings}}, {"all": route}, recorder)
        sink = app.routes[0].sink
        assert isinstance(sink, MemorySink)
        before = len(sink.messages)

        def delivered() -> list[dict[str, Any]]:
            return [orjson.loads(message.payload) for message in sink.messages[before:]]

        async with running(app) as run:
            await _value(feed(records))
            complete = await run.wait_until(
                lambda: len(self._matches(delivered(), wanted)) >= len(wanted), self.timeout
            )
        assert run.stats is not None
        assert run.stats.source_errors == 0, f"the source failed: {run.pipeline.source_status}"
        arrived = len(self._matches(delivered(), wanted))
        assert complete, f"{arrived} of {len(wanted)} events arrived within {self.timeout} s"
        return delivered(), run.stats, recorder

    @pytest.mark.asyncio
    async def test_emits_every_event(self, tmp_path: Path, source_settings: Mapping[str, Any], feed: Feed) -> None:
        records = self.records(1, 20)
        events, stats, recorder = await self._run(tmp_path, source_settings, feed, records, records)
        assert self._matches(events, records) == Counter(records), "events were lost or repeated"
        assert stats.received["under-test"] >= 20
        assert recorder.calls_of("after_receive"), "kete_after_receive was never called"

    @pytest.mark.asyncio
    async def test_a_restart_neither_loses_nor_repeats(
        self, tmp_path: Path, source_settings: Mapping[str, Any], feed: Feed
    ) -> None:
        first, second = self.records(1, 10), self.records(11, 10)
        before, _, _ = await self._run(tmp_path, source_settings, feed, first, first)
        after, _, _ = await self._run(tmp_path, source_settings, feed, second, second)
        delivered = self._matches(before + after, first + second)
        assert set(delivered) == set(first + second), "events were lost across the restart"
        repeated = sum(delivered.values()) - len(first) - len(second)
        assert repeated <= self.duplicates_after_restart, f"{repeated} events delivered again after the restart"

    @pytest.mark.asyncio
    async def test_rejects_malformed_input_with_a_reason(
        self, tmp_path: Path, source_settings: Mapping[str, Any], feed: Feed
    ) -> None:
        good = self.records(1, 3)
        records = [good[0], *self.malformed, *good[1:]]
        events, stats, recorder = await self._run(tmp_path, source_settings, feed, records, good)
        assert self._matches(events, good) == Counter(good)
        rejections = [call.rejection for call in recorder.calls_of("event_rejected")]
        assert len(rejections) == len(self.malformed) == stats.rejected.get("under-test", 0)
        for rejection in rejections:
            assert rejection.source == "under-test" and rejection.reason.strip() and rejection.where.strip()


# --------------------------------------------------------------------------- matchers


class MatcherContract(_Contract):
    """The promises of a :class:`~kete_core.Matcher`.

    Supply ``kind`` (the entry-point name) and examples of its pattern syntax: ``matching`` and
    ``not_matching`` as ``(pattern, value)`` pairs, and ``invalid`` patterns that must be refused.
    """

    kind: ClassVar[str]
    matching: ClassVar[Sequence[tuple[str, str]]]
    not_matching: ClassVar[Sequence[tuple[str, str]]]
    invalid: ClassVar[Sequence[str]] = ()
    odd_values: ClassVar[Sequence[str]] = ("x", "ÄÖÜ_ÉVÉNT", "日本語", "İ", "ß", "\u00a0", "a" * 10_000, "LOG\x00IN")

    def matcher(self, pattern: str) -> Matcher:
        """A matcher of this kind for *pattern*, loaded as kete loads it."""
        cls, _ = load("matcher", self.kind, path="contract")
        matcher: Matcher = cls(pattern)
        return matcher

    def test_matches_its_examples(self) -> None:
        wrong = [(p, v) for p, v in self.matching if not self.matcher(p).matches(v)]
        assert not wrong, f"should match: {wrong}"

    def test_does_not_match_its_counter_examples(self) -> None:
        wrong = [(p, v) for p, v in self.not_matching if self.matcher(p).matches(v)]
        assert not wrong, f"should not match: {wrong}"

    def test_refuses_invalid_patterns_with_a_reason(self) -> None:
        for pattern in self.invalid:
            with pytest.raises(ValueError) as refused:
                self.matcher(pattern)
            assert str(refused.value).strip(), f"pattern {pattern!r} refused without a reason"

    def test_is_case_insensitive(self) -> None:
        for pattern, value in [*self.matching, *self.not_matching]:
            matcher = self.matcher(pattern)
            answers = {matcher.matches(v) for v in (value, value.lower(), value.upper())}
            assert len(answers) == 1, f"{pattern!r} answers differently for the casings of {value!r}"

    def test_is_deterministic(self) -> None:
        for pattern, _ in [*self.matching, *self.not_matching]:
            first, second = self.matcher(pattern), self.matcher(pattern)
            values = [value for _, value in [*self.matching, *self.not_matching]] + list(self.odd_values)
            assert [first.matches(v) for v in values] == [second.matches(v) for v in values]
            assert [first.matches(v) for v in values] == [first.matches(v) for v in values]

    def test_answers_for_any_value(self) -> None:
        for pattern, _ in [*self.matching, *self.not_matching]:
            matcher = self.matcher(pattern)
            for value in self.odd_values:
                assert isinstance(matcher.matches(value), bool), f"{pattern!r} on {value!r}"

    def test_kete_negates_it_with_not(self, tmp_path: Path) -> None:
        pattern, value = self.matching[0]
        routes = {
            "yes": {"event-matchers": {"m": f"{self.kind}:{pattern}"}, "destination": {"kind": "memory"}},
            "no": {"event-matchers": {"m": f"{self.kind}:not:{pattern}"}, "destination": {"kind": "memory"}},
        }
        app = self.app(tmp_path, {}, routes)
        yes, no = app.routes
        assert yes.selects("realm", value) and not no.selects("realm", value)


# --------------------------------------------------------------------------- serializers


class SerializerContract(_Contract):
    """The promises of a :class:`~kete_core.Serializer`.

    Supply ``kind`` and, when it has settings, ``settings``. Override :meth:`decode` to turn a
    payload back into the event's JSON object: the events then must round-trip; without it the
    payloads must be stable. Override :meth:`bad_events` with events it cannot write (the default
    is none: the ``json`` serializer writes whatever JSON kete accepted).
    """

    kind: ClassVar[str]
    settings: ClassVar[Mapping[str, Any]] = {}

    def decode(self, payload: bytes) -> dict[str, Any] | None:
        """The event object *payload* holds, or None when this format does not round-trip."""
        return None

    def bad_events(self) -> list[Event]:
        """Events this serializer cannot write (each must fail alone)."""
        return []

    def serializer(self) -> Serializer:
        cls, info = load("serializer", self.kind, path="contract")
        serializer: Serializer = cls(validate_settings(cls.Config, dict(self.settings), "contract", info))
        return serializer

    def test_declares_its_content_type(self) -> None:
        serializer = self.serializer()
        assert isinstance(serializer.content_type, str) and "/" in serializer.content_type

    def test_writes_every_shape_of_event(self) -> None:
        serializer = self.serializer()
        for event in sample_events():
            payload = serializer.serialize(event)
            assert isinstance(payload, bytes) and payload, f"no payload for {event!r}"
            if not serializer.binary:
                payload.decode("utf-8")

    def test_round_trips_or_is_stable(self) -> None:
        serializer = self.serializer()
        for event in sample_events():
            payload = serializer.serialize(event)
            assert self.serializer().serialize(event) == payload, f"{event!r} is written differently each time"
            decoded = self.decode(payload)
            if decoded is not None:
                assert parse_event(decoded).to_kete() == event.to_kete()

    def test_a_batch_is_written_as_its_events_one_by_one(self) -> None:
        serializer = self.serializer()
        events = sample_events()
        assert serializer.serialize_batch(events) == [serializer.serialize(event) for event in events]

    @pytest.mark.asyncio
    async def test_a_bad_event_fails_alone(self, tmp_path: Path) -> None:
        if not self.bad_events():
            pytest.skip(f"{type(self).__name__}.bad_events() names no event this serializer cannot write")
        for event in self.bad_events():
            with pytest.raises(Exception):  # noqa: B017  (any error: kete catches them all)
                self.serializer().serialize(event)
        good = [user_event(n) for n in range(1, 4)]
        route = {"serializer": {"kind": self.kind, **self.settings}, "destination": {"kind": "memory"}}
        app = self.app(tmp_path, {"in": {"kind": "memory"}}, {"contract": route})
        source, sink = app.sources[0], app.routes[0].sink
        assert isinstance(source, MemorySource) and isinstance(sink, MemorySink)
        source.put(good[0], *[event.data for event in self.bad_events()], *good[1:])
        stats = await Run(app).finish()
        assert [message.event.id for message in sink.messages] == ["e1", "e2", "e3"]
        assert stats.routes["contract"].failed == len(self.bad_events())


# --------------------------------------------------------------------------- renderers


def _comparable(values: Iterable[str | RenderError]) -> list[str]:
    """Rendered values as comparable text: a RenderError (an exception, equal only to itself) by its
    message."""
    return [value if isinstance(value, str) else f"RenderError: {value}" for value in values]


class RendererContract(_Contract):
    """The promises of a :class:`~kete_core.Renderer`.

    Supply ``kind``, ``settings`` when it has any, and ``variables``: one template per variable
    the renderer offers, each rendering that variable alone (an admin event with every field
    must fill each). ``unknown`` is a template naming a variable that does not exist.
    """

    kind: ClassVar[str]
    settings: ClassVar[Mapping[str, Any]] = {}
    variables: ClassVar[Sequence[str]]
    unknown: ClassVar[str]

    def renderer(self) -> Renderer:
        cls, info = load("renderer", self.kind, path="contract")
        renderer: Renderer = cls(validate_settings(cls.Config, dict(self.settings), "contract", info), {})
        return renderer

    def test_renders_every_variable(self) -> None:
        renderer = self.renderer()
        admin = parse_event(admin_event(1, error="e"))
        user = parse_event(user_event(1))
        for text in self.variables:
            template = renderer.compile(text)
            assert template.source == text and template.variables, f"{text!r} names no variable"
            rendered = template.render(admin)
            assert isinstance(rendered, str), f"{text!r} gave {rendered!r} for an admin event with every field"
            assert rendered and "${" not in rendered and rendered != text, f"{text!r} rendered as {rendered!r}"
            assert isinstance(template.render(user), (str, RenderError))

    def test_render_all_equals_render_per_event(self) -> None:
        renderer = self.renderer()
        events = sample_events() + poison_events()
        for text in [*self.variables, "/".join(self.variables), "fixed"]:
            template = renderer.compile(text)
            each = _comparable(template.render(event) for event in events)
            assert _comparable(template.render_all(events)) == each, text
            assert _comparable(template.render_all(iter(events))) == each, text

    def test_is_deterministic(self) -> None:
        events = sample_events()
        texts = [*self.variables, "/".join(self.variables)]
        first = [_comparable(self.renderer().compile(text).render_all(events)) for text in texts]
        assert first == [_comparable(self.renderer().compile(text).render_all(events)) for text in texts]

    def test_refuses_an_unknown_variable_when_compiling(self) -> None:
        with pytest.raises(ValueError) as refused:
            self.renderer().compile(self.unknown)
        assert str(refused.value).strip()


__all__ = [
    "Feed",
    "MatcherContract",
    "ReadBack",
    "RendererContract",
    "Run",
    "SerializerContract",
    "SinkContract",
    "SourceContract",
    "admin_event",
    "build_sink",
    "json_messages",
    "poison_events",
    "running",
    "sample_events",
    "sink_context",
    "user_event",
    "write_config",
]
