"""The Redis sinks when things go wrong or must be secure: a wrong password, the server restarted
mid-run, TLS with client certificates. Each test leaves the session server running."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import orjson
import pytest

from kete_core.testing import replay_config, run_kete, user_event, write_jsonl
from kete_core.testing.outage import TcpRelay, run_through_an_outage
from kete_core.testing.services import free_ports, restored
from tests.services.waiting import not_ready

pytestmark = pytest.mark.redis

USERNAME, PASSWORD = "kete", "kete-secret"  # the ACL user of tests/services/redis_fixtures.py


def config_file(tmp_path: Path, destination: str, **options: Any) -> Path:
    """:func:`replay_config` into the route ``redis``, its destination written as TOML."""
    return replay_config(tmp_path, tomllib.loads(destination), route="redis", **options)


@pytest.fixture
def server(redis_server):
    """The session's server, started again after the test whatever happened to it."""
    yield from restored(redis_server)


def test_the_acl_user_delivers(redis_server, prefix, streams, tmp_path):
    write_jsonl(tmp_path / "events.jsonl", [user_event(n) for n in range(5)])
    config = config_file(
        tmp_path,
        f'kind = "redis-stream"\nhost = "127.0.0.1"\nport = {redis_server.port}\nstream = "{prefix}"\n'
        f'username = "{USERNAME}"\npassword = "{PASSWORD}"\n',
    )
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(streams(prefix, 5)) == 5


def test_a_wrong_password_is_reported_at_start_and_nothing_is_dead_lettered(redis_server, prefix, spawn_kete, tmp_path):
    write_jsonl(tmp_path / "events.jsonl", [user_event(n) for n in range(5)])
    config = config_file(
        tmp_path,
        f'kind = "redis-pubsub"\nhost = "127.0.0.1"\nport = {redis_server.port}\nchannel = "{prefix}"\n'
        f'username = "{USERNAME}"\npassword = "not-the-password-42"\n',
    )
    kete = spawn_kete(config)
    kete.wait_for_log(
        "route 'redis': the destination is not available yet: Unavailable: "
        f"Redis at 127.0.0.1:{redis_server.port} refused user 'kete': "
        "invalid username-password pair or user is disabled."
    )
    assert kete.stop() == 1
    assert "not-the-password-42" not in kete.log
    assert "5 event(s) wait in the spool; they are delivered at the next start" in kete.log
    assert not (tmp_path / "data" / "dead-letters").exists()


def test_server_restarted_mid_run_loses_nothing(server, prefix, streams, spawn_kete, tmp_path):
    events = [user_event(n) for n in range(60)]
    source = tmp_path / "events.jsonl"
    write_jsonl(source, events[:20])
    (metrics,) = free_ports(1)
    config = config_file(
        tmp_path,
        f'kind = "redis-stream"\nhost = "127.0.0.1"\nport = {server.port}\nstream = "{prefix}"\n'
        "connection-timeout-seconds = 1\ncommand-timeout-seconds = 2\n",
        follow=True,
        metrics_port=metrics,
    )
    kete = spawn_kete(config)
    assert len(streams(prefix, 20)) == 20
    server.stop()
    with source.open("ab") as out:
        out.write(b"".join(orjson.dumps(event) + b"\n" for event in events[20:40]))
    kete.wait_for_log("destination unavailable, waiting for it", timeout=30)
    body = not_ready(metrics)
    assert f"cannot reach Redis at 127.0.0.1:{server.port}" in json.dumps(body), body
    server.start()
    with source.open("ab") as out:
        out.write(b"".join(orjson.dumps(event) + b"\n" for event in events[40:]))
    ids = [orjson.loads(entry.fields["body"])["id"] for entry in streams(prefix, 60, timeout=60)]
    assert kete.stop() == 0, kete.log
    assert set(ids) == {event["id"] for event in events}
    assert "destination available again" in kete.log
    assert not (tmp_path / "data" / "dead-letters").exists()


@pytest.mark.parametrize("client_certificate", [False, True], ids=["server-tls", "mutual-tls"])
def test_tls_with_kete_tls_settings(redis_server, prefix, streams, tmp_path, client_certificate):
    pki = redis_server.pki
    write_jsonl(tmp_path / "events.jsonl", [user_event(n) for n in range(5)])
    tls = [
        "tls.enabled = true",
        f'tls.trust-store.loader.kind = "pem-file-path"\ntls.trust-store.loader.path = "{pki.ca_file}"',
    ]
    if client_certificate:
        tls.append(f'tls.key-store.loader.kind = "pem-file-path"\ntls.key-store.loader.path = "{pki.client_file}"')
    config = config_file(
        tmp_path,
        f'kind = "redis-stream"\nhost = "127.0.0.1"\nport = {redis_server.tls_port}\nstream = "{prefix}"\n'
        + "\n".join(tls)
        + "\n",
    )
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(streams(prefix, 5)) == 5


def test_tls_refuses_a_server_it_does_not_trust(redis_server, prefix, spawn_kete, tmp_path):
    write_jsonl(tmp_path / "events.jsonl", [user_event(1)])
    config = config_file(
        tmp_path,
        f'kind = "redis-pubsub"\nhost = "127.0.0.1"\nport = {redis_server.tls_port}\nchannel = "{prefix}"\n'
        "connection-timeout-seconds = 2\ntls.enabled = true\n",
    )
    kete = spawn_kete(config)
    kete.wait_for_log("CERTIFICATE_VERIFY_FAILED")
    assert kete.stop() == 1
    assert not (tmp_path / "data" / "dead-letters").exists()


def test_the_master_a_sentinel_names(redis_server, redis_sentinel, prefix, streams, tmp_path):
    write_jsonl(tmp_path / "events.jsonl", [user_event(n) for n in range(5)])
    config = config_file(
        tmp_path,
        f'kind = "redis-stream"\nmode = "sentinel"\nsentinel-nodes = "127.0.0.1:{redis_sentinel.ports["sentinel"]}"\n'
        f'sentinel-master-id = "kete"\nstream = "{prefix}"\nusername = "{USERNAME}"\npassword = "{PASSWORD}"\n',
    )
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(streams(prefix, 5)) == 5


def test_an_unknown_master_is_unavailable(redis_sentinel, prefix, spawn_kete, tmp_path):
    write_jsonl(tmp_path / "events.jsonl", [user_event(1)])
    config = config_file(
        tmp_path,
        f'kind = "redis-pubsub"\nmode = "sentinel"\nsentinel-nodes = "127.0.0.1:{redis_sentinel.ports["sentinel"]}"\n'
        f'sentinel-master-id = "nobody"\nchannel = "{prefix}"\n',
    )
    kete = spawn_kete(config)
    kete.wait_for_log(
        "the destination is not available yet: Unavailable: cannot reach Redis at master 'nobody' of sentinels"
        f" 127.0.0.1:{redis_sentinel.ports['sentinel']}: No master found for 'nobody'"
    )
    assert kete.stop() == 1


async def test_pubsub_through_an_outage_loses_nothing(redis_server, prefix, subscriber, tmp_path):
    # Pub/sub keeps nothing: a restarted server would also drop the subscriber that checks the
    # delivery. So the outage is kete's alone: a relay between kete and the server closes (the
    # connection cut, new ones refused) and opens again, while the subscriber stays on the server.
    relay = TcpRelay(redis_server.port)
    await relay.open()
    try:
        report = await run_through_an_outage(
            tmp_path,
            {
                "kind": "redis-pubsub",
                "host": "127.0.0.1",
                "port": relay.port,
                "channel": f"{prefix}.${{realmLowerCase}}",
                "connection-timeout-seconds": 1,
                "command-timeout-seconds": 2,
            },
            received=lambda: [orjson.loads(item.payload)["id"] for item in subscriber.received],
            stop=relay.close,
            start=relay.open,
        )
    finally:
        await relay.close()
    assert f"cannot reach Redis at 127.0.0.1:{relay.port}" in report.not_ready, report.not_ready
    channels = {item.channel for item in subscriber.received}
    assert channels == {f"{prefix}.acme", f"{prefix}.partner portal"}
    assert len(subscriber.received) == len(report.sent)
