"""The Pulsar broker stopped in the middle of a ``kete run`` and started again: nothing is lost, nothing is
dead-lettered, and ``/ready`` says why the route waits while the broker is down."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import pulsar
import pytest

from kete_core.testing import user_event, write_jsonl
from kete_core.testing.services import free_ports

pytestmark = pytest.mark.pulsar


def ready(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def wait_until(predicate, timeout: float, what) -> None:
    what = what if callable(what) else (lambda text=what: text)
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what()}"
        time.sleep(0.2)


def append(path: Path, events: list[dict]) -> None:
    with path.open("ab") as out:
        out.write(b"".join(orjson.dumps(event) + b"\n" for event in events))


@pytest.fixture
def broker(pulsar_broker):
    """The session broker, started again after the test whatever happened to it."""
    try:
        yield pulsar_broker
    finally:
        pulsar_broker.start()


def test_broker_restarted_mid_run_loses_nothing_and_ready_says_why(broker, pulsar_topic, pt, spawn_kete, tmp_path):
    events = [user_event(number) for number in range(90)]
    source = tmp_path / "events.jsonl"
    write_jsonl(source, events[:30])
    (metrics_port,) = free_ports(1)
    config = pt.config_file(
        tmp_path,
        f"""
        service-url = "{broker.service_url}"
        topic = "{pulsar_topic}"
        send-timeout-seconds = 3
        operation-timeout-seconds = 3
        connection-timeout-seconds = 1
        """,
        follow=True,
        metrics_port=metrics_port,
    )
    kete = spawn_kete(config)
    before = pt.read_topic(broker.service_url, pulsar_topic, count=30, timeout=60)
    assert len(before) == 30
    broker.stop()
    append(source, events[30:60])
    kete.wait_for_log("destination unavailable, waiting for it", timeout=60)
    wait_until(lambda: ready(metrics_port)[0] == 503, 30, "/ready to say 503")
    status, body = ready(metrics_port)
    reason = json.dumps(body)
    assert status == 503 and "route pulsar" in reason and "cannot reach Pulsar at" in reason, reason
    broker.start()
    append(source, events[60:])
    wanted = {event["id"] for event in events}
    got = {orjson.loads(message.payload)["id"] for message in before}

    def everything_arrived() -> bool:
        try:
            received = pt.read_topic(broker.service_url, pulsar_topic, idle=1.0)
        except pulsar.Timeout:  # the restarted broker has not taken the topic over yet
            return False
        got.update(orjson.loads(message.payload)["id"] for message in received)
        return wanted <= got

    wait_until(
        everything_arrived,
        90,
        lambda: f"every event after the restart, missing {sorted(wanted - got)}; kete log:\n{kete.log[-1500:]}",
    )
    wait_until(lambda: ready(metrics_port)[0] == 200, 30, "/ready to say 200 again")
    assert kete.stop() == 0, kete.log
    assert "destination available again" in kete.log
    assert not (tmp_path / "data" / "dead-letters").exists()
