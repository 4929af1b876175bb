"""A dead sink: the HTTP receiver is down for 60 s in the middle of a run. The spool grows, /ready
says why, and after recovery everything is delivered and nothing is dead-lettered."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.test_reliability import free_port, get

RECEIVER = textwrap.dedent(
    """
    import sys
    from aiohttp import web

    out = open(sys.argv[2], "a")

    async def receive(request):
        body = await request.json()
        out.write(body["id"] + "\\n")
        out.flush()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/", receive)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
    """
)


def start_receiver(script: Path, port: int, received: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, str(script), str(port), str(received)])
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
        except urllib.error.HTTPError:
            return process  # it answers (405 for GET): it is up
        except OSError:
            assert time.monotonic() < deadline, "the receiver did not start"
            time.sleep(0.1)


def append_events(path: Path, start: int, count: int) -> None:
    with path.open("a") as handle:
        for number in range(start, start + count):
            handle.write(json.dumps({"type": "LOGIN", "id": f"e{number}", "realmName": "acme"}) + "\n")


def received_ids(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def metric(port: int, name: str) -> float:
    """The value of metric *name* (summed over its labels), 0 while kete is not serving yet."""
    try:
        _, body = get(f"http://127.0.0.1:{port}/metrics")
    except urllib.error.URLError:
        return 0.0
    total = 0.0
    for line in body.splitlines():
        if line.startswith((name + " ", name + "{")):
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.mark.slow
def test_receiver_down_for_a_minute_loses_nothing(tmp_path):
    script = tmp_path / "receiver.py"
    script.write_text(RECEIVER)
    receiver_port, metrics_port = free_port(), free_port()
    received = tmp_path / "received.txt"
    events = tmp_path / "events.jsonl"
    append_events(events, 0, 2000)
    config = tmp_path / "kete.toml"
    config.write_text(
        f'[kete]\ndata-dir = "{tmp_path / "data"}"\nmetrics.enabled = true\nmetrics.address = "127.0.0.1:{metrics_port}"\n'
        f'[sources.replay]\nkind = "file"\npath = "{events}"\nfollow = true\npoll-interval = "50ms"\n'
        f'[routes.webhook]\nretry.max-wait-duration = "2s"\nretry.multiplier = 2\n'
        f'destination.kind = "http"\ndestination.url = "http://127.0.0.1:{receiver_port}/"\n'
        f"destination.timeout-seconds = 2\n"
    )
    receiver = start_receiver(script, receiver_port, received)
    kete = subprocess.Popen([sys.executable, "-m", "kete_core.cli", "run", str(config)], stderr=subprocess.PIPE)
    try:
        wait_until(lambda: len(received_ids(received)) == 2000, 60, "the first 2000 events")
        receiver.send_signal(signal.SIGKILL)
        receiver.wait()
        down_at = time.monotonic()
        append_events(events, 2000, 6000)
        wait_until(lambda: metric(metrics_port, "kete_spool_depth") >= 6000, 30, "the spool to hold the new events")
        wait_until(lambda: get(f"http://127.0.0.1:{metrics_port}/ready")[0] == 503, 30, "/ready to say 503")
        status, body = get(f"http://127.0.0.1:{metrics_port}/ready")
        assert status == 503 and "route webhook" in json.loads(body)["not_ready"]
        time.sleep(max(0.0, 60 - (time.monotonic() - down_at)))
        assert len(received_ids(received)) == 2000, "nothing can arrive while the receiver is down"
        receiver = start_receiver(script, receiver_port, received)
        wait_until(lambda: len(set(received_ids(received))) == 8000, 120, "delivery after recovery")
        wait_until(lambda: get(f"http://127.0.0.1:{metrics_port}/ready")[0] == 200, 30, "readiness")
        assert metric(metrics_port, "kete_events_dead_lettered_total") == 0
        kete.send_signal(signal.SIGTERM)
        assert kete.wait(timeout=60) == 0, kete.stderr.read().decode()[-2000:]
    finally:
        for process in (kete, receiver):
            if process.poll() is None:
                process.kill()
                process.wait()
        kete.stderr.close()
    ids = received_ids(received)
    assert set(ids) == {f"e{number}" for number in range(8000)}
    assert not (tmp_path / "data" / "dead-letters").exists()
    print(f"\nreceiver down 60 s: all 8000 delivered, {len(ids) - 8000} duplicates")
