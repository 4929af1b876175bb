"""Benchmark: the ``http`` source (webhooks in) feeding the ``file`` sink, under load from another process.

Run from the repository root:  python benchmarks/http_source.py [--seconds 5] [--rates 250,500,1000,2000]

``kete run`` listens with the http source and writes every event to a JSON-lines file. A separate
load-client process (aiohttp) POSTs one event per request at each fixed rate (open loop: requests
are started on schedule whatever the answers, and latency is measured from the scheduled time, so
a stall shows up in the percentiles), then as fast as 64 concurrent connections allow. Reported:
requests/s achieved, p50/p99 latency, answers other than 202. At the end, every accepted event must
be in the file.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson

EVENT = {
    "time": 1_732_000_000_000, "type": "LOGIN", "realmId": "0c2b5a1e", "realmName": "acme",
    "clientId": "account-console", "userId": "f7cd2a4e-77a1-4b7d-9c1e-0a3c1e7e9d11", "sessionId": "70c4e2b1",
    "ipAddress": "192.0.2.10", "details": {"auth_method": "openid-connect", "username": "alice"},
}  # fmt: skip


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


async def _load(url: str, rate: float | None, seconds: float, prefix: str) -> dict[str, Any]:
    import aiohttp

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as client:

        async def one(number: int, scheduled: float) -> None:
            body = orjson.dumps({**EVENT, "id": f"{prefix}-{number}"})
            try:
                async with client.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
                    await response.read()
                    status = response.status
            except aiohttp.ClientError:
                status = 0
            latencies.append(time.perf_counter() - scheduled)
            statuses[status] = statuses.get(status, 0) + 1

        started = time.perf_counter()
        if rate is None:
            counter = iter(range(1 << 62))
            deadline = started + seconds

            async def worker() -> None:
                while time.perf_counter() < deadline:
                    await one(next(counter), time.perf_counter())

            await asyncio.gather(*(worker() for _ in range(64)))
        else:
            tasks = set()
            total = int(rate * seconds)
            for number in range(total):
                scheduled = started + number / rate
                pause = scheduled - time.perf_counter()
                if pause > 0:
                    await asyncio.sleep(pause)
                task = asyncio.create_task(one(number, scheduled))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "per_second": statuses.get(202, 0) / elapsed,
        "p50_ms": _percentile(latencies, 0.50) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        "statuses": statuses,
    }


def _client(url: str, rate: str, seconds: float, prefix: str) -> None:
    result = asyncio.run(_load(url, None if rate == "max" else float(rate), seconds, prefix))
    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_NON_STR_KEYS).decode() + "\n")


def _plain(port_file: str) -> None:
    """The baseline: a bare aiohttp.web server that reads the body and answers 202, doing nothing else."""
    from aiohttp import web

    async def accept(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"accepted": 1}, status=202)

    async def serve() -> None:
        app = web.Application()
        app.router.add_post("/", accept)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, backlog=1024).start()
        Path(port_file).write_text(str(runner.addresses[0][1]))
        await asyncio.Event().wait()

    asyncio.run(serve())


def _steps(url: str, rates: list[str], seconds: float, prefix: str) -> int:
    """Run the load client at each rate, print a table row per step, return the requests answered 202."""
    accepted = 0
    print(f"{'rate (req/s)':>12} {'achieved':>10} {'p50 ms':>8} {'p99 ms':>8}  answers")
    for step, rate in enumerate([*rates, "max"]):
        command = [sys.executable, __file__, "--client", url, rate, str(seconds), f"{prefix}{step}"]
        result = orjson.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
        accepted += result["statuses"].get("202", 0)
        answers = ", ".join(f"{status}: {count}" for status, count in sorted(result["statuses"].items()))
        print(f"{rate:>12} {result['per_second']:>10,.0f} {result['p50_ms']:>8.1f} {result['p99_ms']:>8.1f}  {answers}")
    return accepted


def _baseline(rates: list[str], seconds: float, folder: Path) -> None:
    port_file = folder / "plain-port"
    server = subprocess.Popen([sys.executable, __file__, "--plain", str(port_file)])
    try:
        while not port_file.exists() or not port_file.read_text():
            time.sleep(0.05)
        print("baseline: the same load against a bare aiohttp.web server (reads the body, answers 202)")
        _steps(f"http://127.0.0.1:{port_file.read_text()}/", rates, seconds, "b")
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each rate step")
    parser.add_argument("--rates", default="250,500,1000,2000", help="requests/s of the fixed-rate steps")
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare aiohttp.web baseline")
    parser.add_argument("--client", nargs=4, metavar=("URL", "RATE", "SECONDS", "PREFIX"), help=argparse.SUPPRESS)
    parser.add_argument("--plain", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain:
        _plain(args.plain)
        return
    if args.client:
        url, rate, seconds, prefix = args.client
        _client(url, rate, float(seconds), prefix)
        return
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}")
    print(f"one event of {len(orjson.dumps(EVENT)) + 12} bytes per request; kete and the load client share the cores")
    rates = args.rates.split(",")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        if not args.no_baseline:
            _baseline(rates, args.seconds, folder)
        out = folder / "events.jsonl"
        config = folder / "kete.toml"
        config.write_text(
            f'[sources.hook]\nkind = "http"\nport = 0\n\n[routes.all]\ndestination.kind = "file"\n'
            f'destination.path = "{out}"\n'
        )
        env = {**os.environ, "XDG_STATE_HOME": str(folder / "state")}
        kete = subprocess.Popen(
            [sys.executable, "-m", "kete_core.cli", "run", str(config)],
            env=env, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert kete.stderr is not None
        url = None
        while url is None:
            line = kete.stderr.readline()
            if not line:
                raise SystemExit("kete run exited before listening")
            found = re.search(r"listening on (http://\S+)", line)
            url = found.group(1) if found else None
        log: list[str] = []
        drain = threading.Thread(target=lambda: log.extend(iter(kete.stderr.readline, "")), daemon=True)
        drain.start()  # a full stderr pipe would stall kete
        try:
            print("kete run: http source -> route -> file sink")
            accepted = _steps(url, rates, args.seconds, "s")
        finally:
            kete.send_signal(signal.SIGTERM)
            kete.wait(timeout=60)
            drain.join(timeout=5)
        written = sum(1 for _ in out.open("rb")) if out.exists() else 0
        summary = next((line.strip() for line in log if "done:" in line), "")
        verdict = "all accounted for" if written == accepted else "MISMATCH"
        print(f"accepted {accepted}, written to the file {written}: {verdict}")
        print(summary.split("done: ", 1)[-1])
        if written != accepted:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
