"""A destination outage in the middle of ``kete run``: the test's server stops, kete waits with the
route not ready (``/ready`` says why), the server starts again and every event arrives, nothing
dead-lettered. For sinks whose test server runs in the test's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from kete_core.testing.contracts import replay_config, user_event
from kete_core.testing.runner import KeteProcess
from kete_core.testing.services import free_ports


class TcpRelay:
    """A TCP relay on 127.0.0.1 in front of a server: :meth:`close` takes the server away from
    whoever connects through the relay (new connections refused, open ones cut) while it keeps
    running for everyone else; :meth:`open` brings it back on the same port. For outages a restart
    cannot show: a subscriber on the real server that must not miss anything, or a server too slow
    to restart in a test (Keycloak, moto)."""

    def __init__(self, upstream_port: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self.upstream_port = upstream_port
        (self.port,) = free_ports(1)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def open(self) -> None:
        """Accept connections on :attr:`port` and relay each to the server."""
        self._server = await asyncio.start_server(self._relay, self.host, self.port)

    async def close(self) -> None:
        """Stop accepting and cut every relayed connection."""
        assert self._server is not None, "the relay is not open"
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(self.host, self.upstream_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, upstream_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()
            self._writers.discard(sink)

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


@dataclass
class OutageReport:
    """What :func:`run_through_an_outage` saw."""

    sent: list[dict[str, Any]]
    """The events written to kete's input file, in order."""
    not_ready: str
    """Why ``/ready`` said the route was not ready while the server was down."""
    log: str
    """kete's whole output."""


def readiness(port: int) -> tuple[int, dict[str, str]]:
    """One look at kete's ``/ready`` on *port*: its HTTP status (0 when nothing answers) and, with a
    503, why, by component (``{"route out": "cannot reach ..."}``)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5) as response:
            return response.status, {}
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())["not_ready"]
    except OSError:
        return 0, {}


async def _until(what: str, condition: Callable[[], bool | Awaitable[bool]], timeout: float, kete: KeteProcess) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = condition()
        if result if isinstance(result, bool) else await result:
            return
        if kete.proc.poll() is not None:
            raise AssertionError(f"kete exited ({kete.proc.returncode}) while waiting for {what}:\n{kete.log}")
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n{kete.log[-4000:]}")
        await asyncio.sleep(0.1)


async def run_through_an_outage(
    directory: Path,
    destination: Mapping[str, Any],
    *,
    received: Callable[[], Collection[str]],
    stop: Callable[[], Awaitable[None]],
    start: Callable[[], Awaitable[None]],
    events: int = 20,
    timeout: float = 60.0,
) -> OutageReport:
    """Run ``kete run`` on a file of *events* user events (realms ``acme`` and ``Partner Portal``)
    routed to *destination* (the route is ``out``); stop the server (*stop*) once the first half
    arrived, append the second half, wait for ``/ready`` to report the route, *start* the server
    again and wait until *received()* (the ids the server got) holds every event. Asserts that
    kete then reports ready, exits 0, and dead-lettered nothing."""
    data = directory / "data"
    source = directory / "events.jsonl"
    (metrics,) = free_ports(1)
    retry = {"wait-duration": "100ms", "max-wait-duration": "500ms", "multiplier": 2}
    config = replay_config(directory, destination, route="out", follow=True, metrics_port=metrics, retry=retry)
    sent = []
    for number in range(events):
        event = user_event(number + 1)
        event["realmName"] = ("acme", "Partner Portal")[number % 2]
        sent.append(event)
    half = events // 2
    source.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in sent[:half]))
    kete = KeteProcess("run", str(config), cwd=directory)
    try:

        def arrived(count: int) -> Callable[[], bool]:
            return lambda: {event["id"] for event in sent[:count]} <= set(received())

        await _until("the first half of the events", arrived(half), timeout, kete)
        await stop()
        with source.open("ab") as handle:
            handle.write(b"".join(orjson.dumps(event) + b"\n" for event in sent[half:]))
        not_ready: dict[str, str] = {}

        async def reported() -> bool:
            status, reasons = await asyncio.to_thread(readiness, metrics)
            not_ready.update(reasons)
            return status == 503 and "route out" in reasons

        await _until("/ready to report the route", reported, timeout, kete)
        await start()
        await _until("every event after the restart", arrived(events), timeout, kete)

        async def ready() -> bool:
            return (await asyncio.to_thread(readiness, metrics))[0] == 200

        await _until("/ready to say 200", ready, timeout, kete)
        status = await asyncio.to_thread(kete.stop)
        assert status == 0, kete.log
    finally:
        if kete.proc.poll() is None:
            kete.kill()
    assert not (data / "dead-letters").exists() or not any((data / "dead-letters").iterdir()), kete.log
    return OutageReport(sent, not_ready["route out"], kete.log)
