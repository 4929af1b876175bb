"""``kete run`` on events from a file, sending to real pyzmq peers: PUSH to a PULL peer, PUB with an
envelope to a SUB peer that filters on it, a PULL peer that is not there yet, CURVE, and bad settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import zmq
from zmq.utils import z85

from kete_core.testing import admin_event, replay_config, run_kete, user_event, write_jsonl
from kete_core.testing.services import free_ports
from tests.services.waiting import not_ready, ready

pytestmark = pytest.mark.zeromq


def events(count: int, *, start: int = 0, prefix: str = "") -> list[dict]:
    """*count* events in realms acme and Master, every fourth an admin event; ids ``<prefix>e<n>``/``<prefix>a<n>``."""
    made = []
    for number in range(start, start + count):
        realm = "acme" if number % 2 else "Master"
        event = admin_event(number, realm=realm) if number % 4 == 3 else user_event(number, realm=realm)
        event["id"] = prefix + event["id"]
        made.append(event)
    return made


def config_file(tmp_path: Path, destination: dict, **options: Any) -> Path:
    return replay_config(tmp_path, {"kind": "zeromq", **destination}, route="zmq", **options)


def ids(payloads) -> list[str]:
    return [orjson.loads(payload)["id"] for payload in payloads]


def append(path: Path, records: list[dict]) -> None:
    with path.open("ab") as out:
        out.write(b"".join(orjson.dumps(record) + b"\n" for record in records))


def test_push_to_a_pull_peer_sends_each_payload_alone(peer, endpoint, tmp_path):
    sent = events(50)
    write_jsonl(tmp_path / "events.jsonl", sent)
    pull = peer(zmq.PULL, endpoint)
    config = config_file(tmp_path, {"endpoint": endpoint, "socket-type": "push"})
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "50 delivered, 0 failed" in result.stderr
    got = pull.wait_for(lambda got: len(got) >= 50)
    assert all(len(frames) == 1 for frames in got)  # no envelope, no headers: the payload alone
    assert ids(frames[0] for frames in got) == [event["id"] for event in sent]


def test_publish_with_an_envelope_reaches_the_subscribers_of_its_prefix(peer, endpoint, spawn_kete, tmp_path):
    source = tmp_path / "events.jsonl"
    write_jsonl(source, [])
    config = config_file(
        tmp_path,
        {
            "endpoint": endpoint.replace("127.0.0.1", "*"),
            "socket-type": "PUBLISH",
            "connection-mode": "BIND",
            "envelope": "keycloak-${realmLowerCase}",
            "send-high-water-mark": 5000,
        },
        follow=True,
    )
    kete = spawn_kete(config)
    kete.wait_for_log(f"PUB socket bound to {endpoint.replace('127.0.0.1', '*')}")
    sub = peer(zmq.SUB, endpoint, bind=False, subscribe=b"keycloak-acme")
    # PUB drops what is sent before a subscription arrives (ZeroMQ's "slow joiner"): warm up first.
    warm = 0
    while not sub.wait_for(bool, timeout=0.2):
        append(source, events(2, start=warm, prefix="warm-"))
        warm += 2
        assert warm < 400, "the subscriber never got a message"
    sent = events(40)
    append(source, sent)
    acme = [event["id"] for event in sent if event["realmName"] == "acme"]
    got = sub.wait_for(lambda got: len(got) >= len(acme) and ids([got[-1][1]])[0] == acme[-1], timeout=30)
    assert kete.stop() == 0, kete.log
    real = [frames for frames in got if not orjson.loads(frames[1])["id"].startswith("warm-")]
    assert [frames[0] for frames in real] == [b"keycloak-acme"] * len(acme)
    assert ids(frames[1] for frames in real) == acme  # the Master events went to no subscriber


def test_push_waits_for_a_pull_peer_and_loses_nothing(peer, endpoint, spawn_kete, tmp_path):
    source = tmp_path / "events.jsonl"
    write_jsonl(source, events(100))
    (metrics,) = free_ports(1)
    config = config_file(
        tmp_path,
        {"endpoint": endpoint, "socket-type": "PUSH", "send-timeout-seconds": 1},
        follow=True,
        metrics_port=metrics,
    )
    kete = spawn_kete(config)
    kete.wait_for_log("destination unavailable, waiting for it", timeout=30)
    reason = not_ready(metrics)["route zmq"]
    assert f"no ZeroMQ peer took a message at {endpoint} within 1 s" in reason
    append(source, events(100, start=100))
    pull = peer(zmq.PULL, endpoint)
    got = pull.wait_for(lambda got: len(got) >= 200, timeout=60)
    ready(metrics)
    assert kete.stop() == 0, kete.log
    assert sorted(ids(frames[0] for frames in got)) == sorted(event["id"] for event in events(200))
    assert "destination available again" in kete.log
    assert not (tmp_path / "data" / "dead-letters").exists()


@pytest.mark.parametrize("loader", ["z85-inline", "z85-file-path", "binary-file-path"])
def test_curve_with_keys_loaded_as_kete_loads_them(loader, peer, endpoint, tmp_path):
    server_public, server_secret = zmq.curve_keypair()
    client_public, client_secret = zmq.curve_keypair()
    keys = {"server-key": server_public, "public-key": client_public, "secret-key": client_secret}
    if loader == "z85-inline":
        settings = {name: key.decode() for name, key in keys.items()}
    elif loader == "z85-file-path":
        settings = {name: str((tmp_path / name).with_suffix(".z85")) for name in keys}
        for name, key in keys.items():
            (tmp_path / name).with_suffix(".z85").write_bytes(key + b"\n")
    else:
        settings = {name: str((tmp_path / name).with_suffix(".bin")) for name in keys}
        for name, key in keys.items():
            (tmp_path / name).with_suffix(".bin").write_bytes(z85.decode(key))
    sent = events(10)
    write_jsonl(tmp_path / "events.jsonl", sent)
    pull = peer(zmq.PULL, endpoint, curve_secret=server_secret)
    config = config_file(
        tmp_path,
        {
            "endpoint": endpoint,
            "socket-type": "PUSH",
            "authentication-type": "curve",
            "curve": {"loader": {"kind": loader}, **settings},
        },
    )
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert ids(frames[0] for frames in pull.wait_for(lambda got: len(got) >= 10)) == [e["id"] for e in sent]
    assert client_secret.decode() not in result.stderr


CLOSED = {"endpoint": "tcp://127.0.0.1:1"}
CURVE = {**CLOSED, "authentication-type": "curve"}


@pytest.mark.parametrize(
    ("destination", "expected"),
    [
        ({**CLOSED, "socket-type": "PUSH", "envelope": "x"}, "envelope is only valid for socket-type PUBLISH"),
        ({**CLOSED, "socket-type": "DEALER"}, "routes.zmq.destination.socket-type"),
        (
            {
                **CURVE,
                "curve": {
                    "loader": {"kind": "z85-inline"},
                    "server-key": "short",
                    "public-key": "x",
                    "secret-key": "y",
                },
            },
            "routes.zmq.destination.curve.server-key: a Z85-encoded key has 40 characters, not 5",
        ),
        (CURVE, "routes.zmq.destination.curve.loader.kind: must be one of z85-inline, z85-file-path, binary-file-path"),
        ({**CLOSED, "linger": -2}, "routes.zmq.destination.linger"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(destination, expected, tmp_path):
    config = config_file(tmp_path, destination)
    result = run_kete("check", str(config), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
