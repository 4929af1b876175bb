"""Event-to-sink latency of the Keycloak sources, against a real Keycloak on this machine.

A thread makes client-credentials token requests at a steady rate (each one a ``CLIENT_LOGIN``
event); kete runs one source and a ``file`` sink, whose acknowledgements are timed. Latency is the
acknowledgement's wall-clock time minus the event's ``time``: Keycloak's event time for the poller,
the log record's timestamp (millisecond precision) for the log follower. Both clocks are this
machine's.

    python -m benchmarks.keycloak_latency [--source log|poller|both] [--rate 20]
        [--seconds 30] [--interval 1s]

Run from the repository root (it uses the test suite's Keycloak server helpers).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import machine
from kete_core.contracts import DeliveryResults, Message
from kete_core.pipeline import Pipeline
from kete_core.testing import load_app
from tests.services.keycloak_server import KEYCLOAK_VERSION, KeycloakServer, client_token


def sources(server: KeycloakServer, interval: str) -> dict[str, str]:
    return {
        "log": f'kind = "keycloak-log"\npath = "{server.log_file}"',
        "poller": (
            f'kind = "keycloak-admin-api"\nserver = "{server.base_url}"\nrealms = ["{server.realm}"]\n'
            f'client-id = "{server.poller_client_id}"\nclient-secret = "{server.poller_client_secret}"\n'
            f'interval = "{interval}"\nadmin-events = false'
        ),
    }


def drive(server: KeycloakServer, rate: float, seconds: float, done: threading.Event) -> int:
    """Token requests at *rate* per second for *seconds*; returns how many were made."""
    made = 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        client_token(server.base_url)
        made += 1
        time.sleep(max(0.0, start + made / rate - time.monotonic()))
    done.set()
    return made


async def measure(config: Path, server: KeycloakServer, rate: float, seconds: float) -> tuple[list[float], int]:
    app = load_app(config)
    latencies: list[float] = []
    (route,) = app.routes
    send = route.sink.send

    async def timed(messages: Sequence[Message]) -> DeliveryResults:
        result = await send(messages)
        now = time.time()
        latencies.extend(now - message.event.data["time"] / 1000 for message in messages)
        return result

    route.sink.send = timed  # type: ignore[method-assign]
    pipeline = Pipeline(app)
    run = asyncio.create_task(pipeline.run())
    await asyncio.sleep(2)  # the source is reading; events from now on are measured
    done = threading.Event()
    made = await asyncio.to_thread(drive, server, rate, seconds, done)
    deadline = time.monotonic() + 60
    while len(latencies) < made and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    pipeline.request_stop()
    await run
    return latencies[-made:], made


def report(name: str, latencies: list[float], made: int) -> None:
    quantiles = statistics.quantiles(latencies, n=100)
    print(
        f"{name}: {made} events, {len(latencies)} delivered; event → sink acknowledged: "
        f"p50 {quantiles[49] * 1000:.0f} ms, p99 {quantiles[98] * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", choices=["log", "poller", "both"], default="both")
    parser.add_argument("--rate", type=float, default=20.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--interval", default="1s", help="the poller's interval")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="kete-keycloak-latency-"))
    server = KeycloakServer(KEYCLOAK_VERSION, workdir=workdir / "keycloak")
    server.start()
    print(f"machine: {machine()}; Keycloak {server.version}")
    try:
        for name, source in sources(server, args.interval).items():
            if args.source not in (name, "both"):
                continue
            folder = workdir / name
            folder.mkdir()
            config = folder / "kete.toml"
            config.write_text(
                f'[kete]\ndata-dir = "{folder / "data"}"\nlog-level = "warning"\n\n[sources.keycloak]\n{source}\n\n'
                f'[routes.all]\ndestination.kind = "file"\ndestination.path = "{folder / "out.jsonl"}"\n'
            )
            latencies, made = asyncio.run(measure(config, server, args.rate, args.seconds))
            label = f"poller (interval {args.interval})" if name == "poller" else "log follower"
            report(f"{label}, {args.rate:g}/s for {args.seconds:g} s", latencies, made)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
