"""``kete run`` on events from a file, with a KETE ``.properties`` configuration, into the session's
nats-server; what arrived is read back from a JetStream stream with its own connection."""

from __future__ import annotations

import orjson
import pytest

from kete_core.event import parse_event
from kete_core.testing import admin_event, read_jsonl, replay_properties, run_kete, user_event, write_jsonl

pytestmark = pytest.mark.nats

REALMS = ("acme", "beta_realm")


def events(count: int) -> list[dict]:
    """User events, every fourth an admin event, over two realms."""
    return [
        admin_event(number, realm=REALMS[number % 2])
        if number % 4 == 3
        else user_event(number, realm=REALMS[number % 2])
        for number in range(count)
    ]


def test_subjects_headers_and_payloads_as_kete_sends_them(nats_server, capture, tmp_path):
    raw = events(24)
    write_jsonl(tmp_path / "events.jsonl", raw)
    config = replay_properties(
        tmp_path,
        "kete.routes.core.destination.kind=nats",
        f"kete.routes.core.destination.servers={nats_server.url}",
        f"kete.routes.core.destination.subject={capture.prefix}.core.${{realmKebabCase}}.${{kindLowerCase}}",
        "kete.routes.core.destination.authentication-method=username-and-password",
        "kete.routes.core.destination.username=kete",
        "kete.routes.core.destination.password=kete-secret",
        "kete.routes.core.destination.headers.pipeline=kete",
        "kete.routes.core.destination.headers.realm=${realmUpperCase}",
        "kete.routes.core.destination.pool.max-total=20",
        "kete.routes.js.destination.kind=nats-jetstream",
        f"kete.routes.js.destination.servers={nats_server.url}",
        f"kete.routes.js.destination.subject={capture.prefix}.js.${{realmLowerCase}}",
        f"kete.routes.js.destination.stream={capture.name}",
        "kete.routes.js.destination.authentication-method=nkey",
        f"kete.routes.js.destination.nkey-seed={nats_server.nkey_seed}",
        "kete.routes.js.destination.publish-timeout-seconds=5",
    )
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "24 events received, 0 rejected" in result.stderr
    assert nats_server.nkey_seed not in result.stderr

    parsed = [parse_event(event) for event in raw]
    payloads = {event.id: orjson.dumps(event.to_kete()) for event in parsed}
    got = capture.wait(48)
    core = [message for message in got if message.subject.startswith(f"{capture.prefix}.core.")]
    jetstream = [message for message in got if message.subject.startswith(f"{capture.prefix}.js.")]

    def kete_headers(event) -> dict[str, str]:
        return {"eventkind": event.kind, "eventtype": event.event_type, "contenttype": "application/json"}

    # in the file's order: one connection per route, each batch published in order
    assert [(m.subject, m.headers, m.payload) for m in core] == [
        (
            f"{capture.prefix}.core.{event.realm.replace('_', '-')}.{event.kind.lower()}",
            {"pipeline": "kete", "realm": event.realm.upper(), **kete_headers(event)},
            payloads[event.id],
        )
        for event in parsed
    ]
    assert [(m.subject, m.headers, m.payload) for m in jetstream] == [
        (f"{capture.prefix}.js.{event.realm}", kete_headers(event), payloads[event.id]) for event in parsed
    ]


def test_a_message_jetstream_refuses_fails_that_event_alone(nats_server, capture, streams, tmp_path):
    """Realm ``acme`` goes to a stream; ``big`` to a stream that takes no message that large (refused
    for good); ``lost`` to a subject no stream takes (retried as the route says, then dead-lettered)."""
    prefix = capture.prefix
    streams.create(f"{capture.name}_ACME", [f"{prefix}-acme.x"])
    streams.create(f"{capture.name}_BIG", [f"{prefix}-big.x"], max_msg_size=64)
    write_jsonl(tmp_path / "events.jsonl", [user_event(n, realm=("acme", "big", "lost")[n % 3]) for n in range(12)])
    config = replay_properties(
        tmp_path,
        "kete.routes.js.retry.max-attempts=2",
        "kete.routes.js.retry.wait-duration=10ms",
        "kete.routes.js.destination.kind=nats-jetstream",
        f"kete.routes.js.destination.servers={nats_server.url}",
        f"kete.routes.js.destination.subject={prefix}-${{realmLowerCase}}.x",
        f"kete.routes.js.destination.stream={capture.name}_ACME",
        "kete.routes.js.destination.authentication-method=none",
    )
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "route js: 12 matched, 4 delivered, 8 failed" in result.stderr
    delivered = streams.read(f"{capture.name}_ACME")
    assert [orjson.loads(m.payload)["id"] for m in delivered] == [f"e{n}" for n in range(0, 12, 3)]
    letters = {letter["event"]["id"]: letter for letter in read_jsonl(tmp_path / "data" / "dead-letters" / "js.jsonl")}
    assert sorted(letters) == sorted(f"e{n}" for n in range(12) if n % 3)
    for n in range(1, 12, 3):  # realm big
        assert letters[f"e{n}"]["attempts"] == 1
        assert letters[f"e{n}"]["error"].startswith(
            f"PermanentError: JetStream refused the message for '{prefix}-big.x': message size exceeds maximum"
        )
    for n in range(2, 12, 3):  # realm lost
        assert letters[f"e{n}"]["attempts"] == 2
        assert letters[f"e{n}"]["error"] == f"NoStream: no JetStream stream takes subject '{prefix}-lost.x'"
