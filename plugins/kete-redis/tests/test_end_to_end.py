"""``kete run`` on events from a file, with a KETE ``.properties`` configuration, into the session's Redis
server; what arrived is read back with redis-py."""

from __future__ import annotations

import orjson
import pytest
import redis

from kete_core.event import parse_event
from kete_core.testing import admin_event, read_jsonl, replay_properties, run_kete, user_event, write_jsonl

pytestmark = pytest.mark.redis

REALMS = ("acme", "beta_realm")


def events(count: int) -> list[dict]:
    """User events, every fourth an admin event, over two realms."""
    return [
        admin_event(number, realm=REALMS[number % 2])
        if number % 4 == 3
        else user_event(number, realm=REALMS[number % 2], event_type="LOGIN" if number % 3 else "LOGIN_ERROR")
        for number in range(count)
    ]


def test_streams_and_channels_get_every_event_with_kete_fields(redis_server, prefix, subscriber, streams, tmp_path):
    raw = events(24)
    write_jsonl(tmp_path / "events.jsonl", raw)
    config = replay_properties(
        tmp_path,
        "kete.routes.stream.destination.kind=redis-stream",
        "kete.routes.stream.destination.host=127.0.0.1",
        f"kete.routes.stream.destination.port={redis_server.port}",
        f"kete.routes.stream.destination.stream={prefix}:${{realmKebabCase}}:${{kindLowerCase}}",
        "kete.routes.stream.destination.headers.pipeline=kete",
        "kete.routes.stream.destination.headers.realm=${realmUpperCase}",
        "kete.routes.stream.destination.client-name=kete-e2e",
        "kete.routes.stream.destination.pool.max-total=20",
        "kete.routes.pubsub.destination.kind=redis-pubsub",
        "kete.routes.pubsub.destination.host=127.0.0.1",
        f"kete.routes.pubsub.destination.port={redis_server.port}",
        f"kete.routes.pubsub.destination.channel={prefix}.${{realmLowerCase}}.${{eventTypeKebabCase}}",
        "kete.routes.legacy.destination.kind=redis-streams",
        "kete.routes.legacy.destination.host=127.0.0.1",
        f"kete.routes.legacy.destination.port={redis_server.port}",
        f"kete.routes.legacy.destination.stream={prefix}-legacy",
    )
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "24 events received, 0 rejected" in result.stderr

    parsed = [parse_event(event) for event in raw]
    payloads = {event["id"]: orjson.dumps(parse_event(event).to_kete()) for event in raw}
    entries = streams(f"{prefix}:", 24)
    want_unsorted = [
        (
            f"{prefix}:{event.realm.replace('_', '-')}:{event.kind.lower()}",
            # custom fields first, then KETE's, in KETE's order
            [
                ("pipeline", b"kete"),
                ("realm", event.realm.upper().encode()),
                ("eventkind", event.kind.encode()),
                ("eventtype", event.event_type.encode()),
                ("contenttype", b"application/json"),
                ("body", payloads[event.id]),
            ],
        )
        for event in parsed
    ]
    assert sorted((entry.stream, list(entry.fields.items())) for entry in entries) == sorted(want_unsorted)
    # each stream has its events in the file's order
    for stream in {entry.stream for entry in entries}:
        got = [orjson.loads(entry.fields["body"])["id"] for entry in entries if entry.stream == stream]
        assert got == [event.id for (name, _), event in zip(want_unsorted, parsed, strict=True) if name == stream]

    received = subscriber.wait(24)
    assert sorted((message.channel, message.payload) for message in received) == sorted(
        (f"{prefix}.{event.realm}.{event.event_type.lower().replace('_', '-')}", payloads[event.id]) for event in parsed
    )
    legacy = streams(f"{prefix}-legacy", 24)
    assert [entry.fields["body"] for entry in legacy] == [payloads[event.id] for event in parsed]
    assert {entry.stream for entry in legacy} == {f"{prefix}-legacy"}


@pytest.mark.parametrize("approximate", ["false", "true"])
def test_max_len_trims_the_stream(redis_server, prefix, streams, tmp_path, approximate):
    write_jsonl(tmp_path / "events.jsonl", [user_event(number) for number in range(40)])
    config = replay_properties(
        tmp_path,
        "kete.routes.r.destination.kind=redis-stream",
        "kete.routes.r.destination.host=127.0.0.1",
        f"kete.routes.r.destination.port={redis_server.port}",
        f"kete.routes.r.destination.stream={prefix}",
        "kete.routes.r.destination.max-len=5",
        f"kete.routes.r.destination.approximate-trimming={approximate}",
    )
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    ids = [orjson.loads(entry.fields["body"])["id"] for entry in streams(prefix, 5)]
    # MAXLEN = 5 keeps exactly the last five; MAXLEN ~ 5 trims whole nodes only, so keeps some more.
    kept = len(ids) if approximate == "true" else 5
    assert 5 <= kept < 40
    assert ids == [f"e{n}" for n in range(40 - kept, 40)]


def test_a_refused_command_fails_that_event_alone(redis_server, prefix, streams, tmp_path):
    client = redis.Redis(host="127.0.0.1", port=redis_server.port)
    client.set(f"{prefix}:beta_realm", "not a stream")  # XADD to it is refused with WRONGTYPE
    client.close()
    write_jsonl(tmp_path / "events.jsonl", [user_event(n, realm=REALMS[n % 2]) for n in range(10)])
    config = replay_properties(
        tmp_path,
        "kete.routes.r.destination.kind=redis-stream",
        "kete.routes.r.destination.host=127.0.0.1",
        f"kete.routes.r.destination.port={redis_server.port}",
        f"kete.routes.r.destination.stream={prefix}:${{realmLowerCase}}",
    )
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 1, result.stderr  # some events could not be delivered
    assert "route r: 10 matched, 5 delivered, 5 failed" in result.stderr
    assert [entry.stream for entry in streams(prefix, 5)] == [f"{prefix}:acme"] * 5
    letters = read_jsonl(tmp_path / "data" / "dead-letters" / "r.jsonl")
    assert sorted(letter["event"]["id"] for letter in letters) == [f"e{n}" for n in (1, 3, 5, 7, 9)]
    assert {letter["error"] for letter in letters} == {
        "PermanentError: Redis refused it: WRONGTYPE Operation against a key holding the wrong kind of value"
    }
    assert {letter["attempts"] for letter in letters} == {1}  # permanent: not retried
