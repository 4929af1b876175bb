"""The NATS sinks when things go wrong or must be secure: a wrong password, a missing stream, the
server restarted mid-run, TLS with client certificates and a token. Each test leaves the session
servers running."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import time
import tomllib
from pathlib import Path
from typing import Any

import nats
import orjson
import pytest
from nats.aio.client import RawCredentials
from nats.aio.msg import Msg

from kete_core.testing import replay_config, run_kete, user_event, write_jsonl
from kete_core.testing.services import free_ports, restored
from tests.services.waiting import not_ready

pytestmark = pytest.mark.nats

TOKEN = "kete-token"  # of nats_tls_server in tests/services/nats_fixtures.py


def config_file(tmp_path: Path, destination: str, **options: Any) -> Path:
    """:func:`replay_config` into the route ``nats``, its destination written as TOML."""
    return replay_config(tmp_path, tomllib.loads(destination), route="nats", **options)


@pytest.fixture
def server(nats_server):
    """The session's server, started again after the test whatever happened to it."""
    yield from restored(nats_server)


def test_a_wrong_password_is_reported_at_start_and_nothing_is_dead_lettered(nats_server, capture, spawn_kete, tmp_path):
    write_jsonl(tmp_path / "events.jsonl", [user_event(n) for n in range(5)])
    config = config_file(
        tmp_path,
        f'kind = "nats"\nservers = "{nats_server.url}"\nsubject = "{capture.prefix}.x"\n'
        'authentication-method = "username-and-password"\nusername = "kete"\npassword = "not-the-password-42"\n',
    )
    kete = spawn_kete(config)
    kete.wait_for_log(
        "route 'nats': the destination is not available yet: Unavailable: "
        f"cannot reach NATS at {nats_server.url}: Error: nats: 'Authorization Violation'"
    )
    assert kete.stop() == 1
    assert "not-the-password-42" not in kete.log
    assert "5 event(s) wait in the spool; they are delivered at the next start" in kete.log
    assert not (tmp_path / "data" / "dead-letters").exists()


def test_a_missing_stream_is_reported_at_start(nats_server, capture, spawn_kete, tmp_path):
    write_jsonl(tmp_path / "events.jsonl", [user_event(1)])
    config = config_file(
        tmp_path,
        f'kind = "nats-jetstream"\nservers = "{nats_server.url}"\nsubject = "{capture.prefix}.x"\n'
        'stream = "NO_SUCH_STREAM"\nauthentication-method = "none"\n',
    )
    kete = spawn_kete(config)
    kete.wait_for_log(
        "the destination is not available yet: Unavailable: "
        f"stream 'NO_SUCH_STREAM' does not exist on the NATS server at {nats_server.url}"
    )
    assert kete.stop() == 1
    assert not (tmp_path / "data" / "dead-letters").exists()


@pytest.mark.parametrize("kind", ["nats", "nats-jetstream"])
def test_server_restarted_mid_run_loses_nothing(server, capture, spawn_kete, tmp_path, kind):
    events = [user_event(n) for n in range(60)]
    source = tmp_path / "events.jsonl"
    write_jsonl(source, events[:20])
    (metrics,) = free_ports(1)
    config = config_file(
        tmp_path,
        f'kind = "{kind}"\nservers = "{server.url}"\nsubject = "{capture.prefix}.x"\n'
        'authentication-method = "none"\nconnection-timeout-seconds = 1\n'
        + ("" if kind == "nats" else f'stream = "{capture.name}"\n'),
        follow=True,
        metrics_port=metrics,
    )
    kete = spawn_kete(config)
    assert len(capture.wait(20)) == 20
    server.stop()
    with source.open("ab") as out:
        out.write(b"".join(orjson.dumps(event) + b"\n" for event in events[20:40]))
    kete.wait_for_log("destination unavailable, waiting for it", timeout=30)
    assert f"cannot reach NATS at {server.url}" in json.dumps(not_ready(metrics))
    server.start()
    with source.open("ab") as out:
        out.write(b"".join(orjson.dumps(event) + b"\n" for event in events[40:]))
    ids = [orjson.loads(message.payload)["id"] for message in capture.wait(60, timeout=60)]
    assert kete.stop() == 0, kete.log
    assert set(ids) == {event["id"] for event in events}
    assert "destination available again" in kete.log
    assert not (tmp_path / "data" / "dead-letters").exists()


def test_mutual_tls_and_a_token(nats_tls_server, tmp_path):
    """Checked with a subscriber of our own: this server has no JetStream."""
    pki = nats_tls_server.pki
    received: list[bytes] = []

    async def scenario() -> int:
        context = ssl.create_default_context(cafile=str(pki.ca_file))
        context.load_cert_chain(str(pki.client_file))
        subscriber = await nats.connect(nats_tls_server.url, tls=context, token=TOKEN)

        async def collect(msg: Msg) -> None:
            received.append(msg.data)

        await subscriber.subscribe("tls.>", cb=collect)
        await subscriber.flush()
        write_jsonl(tmp_path / "events.jsonl", [user_event(n) for n in range(5)])
        config = config_file(
            tmp_path,
            f'kind = "nats"\nservers = "{nats_tls_server.url}"\nsubject = "tls.${{realmLowerCase}}"\n'
            f'authentication-method = "token"\ntoken = "{TOKEN}"\ntls.enabled = true\n'
            f'tls.trust-store.loader.kind = "pem-file-path"\ntls.trust-store.loader.path = "{pki.ca_file}"\n'
            f'tls.key-store.loader.kind = "pem-file-path"\ntls.key-store.loader.path = "{pki.client_file}"\n',
        )
        code = await asyncio.to_thread(lambda: run_kete("run", str(config), cwd=tmp_path).returncode)
        deadline = time.monotonic() + 10
        while len(received) < 5 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await subscriber.close()
        return code

    assert asyncio.run(scenario()) == 0
    assert sorted(orjson.loads(payload)["id"] for payload in received) == [f"e{n}" for n in range(5)]


def test_tls_without_a_client_certificate_is_refused(nats_tls_server, spawn_kete, tmp_path):
    pki = nats_tls_server.pki
    write_jsonl(tmp_path / "events.jsonl", [user_event(1)])
    config = config_file(
        tmp_path,
        f'kind = "nats"\nservers = "{nats_tls_server.url}"\nsubject = "tls.x"\nconnection-timeout-seconds = 2\n'
        f'authentication-method = "token"\ntoken = "{TOKEN}"\ntls.enabled = true\n'
        f'tls.trust-store.loader.kind = "pem-file-path"\ntls.trust-store.loader.path = "{pki.ca_file}"\n',
    )
    kete = spawn_kete(config)
    kete.wait_for_log(f"the destination is not available yet: Unavailable: cannot reach NATS at {nats_tls_server.url}")
    assert kete.stop() == 1
    assert TOKEN not in kete.log


@pytest.mark.parametrize("way", ["path", "text", "base64"])
def test_a_credentials_file_logs_in_to_an_operator_mode_server(nats_operator_server, tmp_path, way):
    credentials = nats_operator_server.credentials
    (tmp_path / "kete.creds").write_text(credentials)
    value = {
        "path": str(tmp_path / "kete.creds"),
        "text": credentials,
        "base64": base64.b64encode(credentials.encode()).decode(),
    }[way]
    received: list[bytes] = []

    async def scenario() -> int:
        subscriber = await nats.connect(nats_operator_server.url, user_credentials=RawCredentials(credentials))

        async def collect(msg: Msg) -> None:
            received.append(msg.data)

        await subscriber.subscribe("creds.>", cb=collect)
        await subscriber.flush()
        write_jsonl(tmp_path / "events.jsonl", [user_event(n) for n in range(3)])
        config = config_file(
            tmp_path,
            f'kind = "nats"\nservers = "{nats_operator_server.url}"\nsubject = "creds.${{realmLowerCase}}"\n'
            f'authentication-method = "credentials-file-{way}"\ncredentials-file-{way} = {json.dumps(value)}\n',
        )
        code = await asyncio.to_thread(lambda: run_kete("run", str(config), cwd=tmp_path).returncode)
        deadline = time.monotonic() + 10
        while len(received) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await subscriber.close()
        return code

    assert asyncio.run(scenario()) == 0
    assert sorted(orjson.loads(payload)["id"] for payload in received) == ["e0", "e1", "e2"]
