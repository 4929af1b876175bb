"""The stomp sink through ``kete run`` against the real RabbitMQ (its STOMP plugin): destinations and headers as
KETE sends them, a wrong password, TLS, a refused message, receipts off, and the broker restarted mid-run."""

from __future__ import annotations

import orjson
import pytest

from kete_core import Message, parse_event
from kete_core.testing import build_sink, run_kete, user_event, write_jsonl
from tests.services import rabbitmq_client as at

pytestmark = pytest.mark.stomp


def destination(rabbitmq, queue, **more):
    return {
        "kind": "stomp",
        "host": "127.0.0.1",
        "port": rabbitmq.port("stomp"),
        "username": "kete",
        "password": "kete-secret",
        "virtual-host": "/",
        "destination": f"/exchange/{queue.exchange}/${{kindLowerCase}}.${{realmLowerCase}}",
        **more,
    }


async def test_every_event_arrives_with_its_destination_and_headers(rabbitmq, rabbitmq_names, tmp_path):
    queue = await at.declare(rabbitmq.url, *rabbitmq_names)
    events = at.make_events(9)
    write_jsonl(tmp_path / "events.jsonl", events)
    config = at.kete_config(
        tmp_path, destination(rabbitmq, queue, **{"headers.x-origin": "kete-test", "headers.eventtype": "overridden"})
    )
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    got = at.stomp_consume(rabbitmq.port("stomp"), queue.name, count=len(events))
    assert [orjson.loads(message.body)["id"] for message in got] == [event["id"] for event in events]
    for message, event in zip(got, events, strict=True):
        admin = "resourceType" in event
        kind = "ADMIN_EVENT" if admin else "EVENT"
        headers = message.headers
        assert headers["destination"] == f"/exchange/{queue.exchange}/{kind.lower()}.{event['realmName']}"
        assert headers["eventkind"] == kind
        assert headers["eventtype"] == ("USER_CREATE" if admin else "LOGIN")
        assert headers["content-type"] == "application/json"
        assert headers["content-length"] == str(len(message.body))
        assert headers["x-origin"] == "kete-test"
        assert headers["receipt"] == event["id"]  # KETE's receipt is the event id; RabbitMQ passes it on


async def test_a_wrong_password_is_reported_and_nothing_is_dead_lettered(
    rabbitmq, rabbitmq_names, spawn_kete, tmp_path
):
    queue = await at.declare(rabbitmq.url, *rabbitmq_names)
    log = at.check_wrong_password(spawn_kete, tmp_path, destination(rabbitmq, queue), "the STOMP broker at 127.0.0.1:")
    assert "refused the login of user 'kete'" in log, log


async def test_tls_with_a_client_certificate(rabbitmq, rabbitmq_names, tmp_path):
    queue = await at.declare(rabbitmq.url, *rabbitmq_names)
    write_jsonl(tmp_path / "events.jsonl", at.make_events(4))
    tls = at.mutual_tls(rabbitmq.pki)
    config = at.kete_config(tmp_path, destination(rabbitmq, queue, port=rabbitmq.port("stomps"), **tls))
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(at.stomp_consume(rabbitmq.port("stomp"), queue.name, count=4)) == 4


async def test_a_refused_message_fails_alone_and_nothing_is_sent_twice(rabbitmq, rabbitmq_names):
    queue = await at.declare(rabbitmq.url, *rabbitmq_names)
    # "ghost" names an exchange that does not exist: RabbitMQ answers with an ERROR that names no receipt.
    settings = destination(rabbitmq, queue, destination="/exchange/${realmLowerCase}/k")
    del settings["kind"]
    sink = build_sink("stomp", settings)
    realms = [queue.exchange] * 2 + ["ghost"] + [queue.exchange] * 2
    events = [parse_event(user_event(number, realm=realm)) for number, realm in enumerate(realms)]
    messages = [Message(event, orjson.dumps({"id": event.id}), "application/json") for event in events]
    await sink.start()
    try:
        results = await sink.send(messages)
    finally:
        await sink.close()
    assert results is not None
    assert [result is None for result in results] == [True, True, False, True, True], results
    assert "no exchange" in str(results[2])
    got = at.stomp_consume(rabbitmq.port("stomp"), queue.name, idle=0.5)
    assert sorted(orjson.loads(message.body)["id"] for message in got) == sorted(
        events[number].id for number in (0, 1, 3, 4)
    )


async def test_without_receipts_a_written_frame_counts(rabbitmq, rabbitmq_names, tmp_path):
    queue = await at.declare(rabbitmq.url, *rabbitmq_names)
    write_jsonl(tmp_path / "events.jsonl", at.make_events(6))
    config = at.kete_config(tmp_path, destination(rabbitmq, queue, **{"receipt-enabled": False}))
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    got = at.stomp_consume(rabbitmq.port("stomp"), queue.name, count=6)
    assert all("receipt" not in message.headers for message in got)


async def test_the_broker_restarted_mid_run_loses_nothing(rabbitmq, rabbitmq_names, tmp_path):
    queue = await at.declare(rabbitmq.url, *rabbitmq_names)
    report = await at.through_a_restart(rabbitmq, queue, tmp_path, destination(rabbitmq, queue))
    assert "cannot reach the STOMP broker at 127.0.0.1" in report.not_ready, report.not_ready


async def test_a_kete_properties_configuration_runs_unchanged(rabbitmq, rabbitmq_names, tmp_path):
    queue = await at.declare(rabbitmq.url, *rabbitmq_names)
    write_jsonl(tmp_path / "events.jsonl", at.make_events(6))
    config = tmp_path / "kete.properties"
    config.write_text(
        f"kete.data-dir={tmp_path / 'data'}\n"
        "kete.sources.replay.kind=file\n"
        f"kete.sources.replay.path={tmp_path / 'events.jsonl'}\n"
        # KETE's keys, as its documentation writes them (RabbitMQ's STOMP destination form).
        "kete.routes.stomp.destination.kind=stomp\n"
        "kete.routes.stomp.destination.host=127.0.0.1\n"
        f"kete.routes.stomp.destination.port={rabbitmq.port('stomp')}\n"
        "kete.routes.stomp.destination.username=kete\n"
        "kete.routes.stomp.destination.password=kete-secret\n"
        "kete.routes.stomp.destination.virtual-host=/\n"
        f"kete.routes.stomp.destination.destination=/exchange/{queue.exchange}/keycloak.${{realmLowerCase}}\n"
        "kete.routes.stomp.destination.receipt-enabled=true\n"
        "kete.routes.stomp.destination.heart-beat-outgoing-seconds=10\n"
        "kete.routes.stomp.destination.heart-beat-incoming-seconds=10\n"
        "kete.routes.stomp.destination.read-timeout-seconds=30\n"
        "kete.routes.stomp.destination.headers.x-source=keycloak\n"
        "kete.routes.stomp.destination.pool.max-total=4\n"
    )
    result = run_kete("run", str(config), cwd=tmp_path)
    assert "route stomp: 6 matched, 6 delivered, 0 failed" in result.stdout + result.stderr, result.stderr
    got = at.stomp_consume(rabbitmq.port("stomp"), queue.name, count=6)
    assert all(message.headers["x-source"] == "keycloak" for message in got)
