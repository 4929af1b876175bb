"""The amqp-0.9.1 sink through ``kete run`` against the real RabbitMQ: addresses and metadata as KETE sends
them, a virtual host and its user, a wrong password, TLS, refused messages, and the broker restarted mid-run."""

from __future__ import annotations

import pytest

from kete_core import Message, parse_event
from kete_core.testing import build_sink, run_kete, user_event, write_jsonl
from tests.services import rabbitmq_client as at

pytestmark = pytest.mark.amqp


def destination(rabbitmq, queue, **more):
    return {
        "kind": "amqp-0.9.1",
        "host": "127.0.0.1",
        "port": rabbitmq.port("amqp"),
        "username": "kete",
        "password": "kete-secret",
        "exchange": queue.exchange,
        **more,
    }


async def test_every_event_arrives_with_its_routing_key_and_metadata(rabbitmq, rabbitmq_names, tmp_path):
    queue = await at.declare(rabbitmq.url, *rabbitmq_names)
    events = at.make_events(12)
    write_jsonl(tmp_path / "events.jsonl", events)
    config = at.kete_config(
        tmp_path,
        destination(
            rabbitmq, queue, **{"routing-key": "${kindLowerCase}.${realmLowerCase}.${eventTypeLowerCase}",
                                "headers.x-origin": "kete-test", "headers.eventkind": "overridden"}
        ),
    )  # fmt: skip
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    got = await at.consume(queue, count=len(events))
    assert at.ids(got) == [event["id"] for event in events]
    for message, event in zip(got, events, strict=True):
        admin = "resourceType" in event
        kind = "ADMIN_EVENT" if admin else "EVENT"
        event_type = "USER_CREATE" if admin else "LOGIN"
        assert message.routing_key == f"{kind.lower()}.{event['realmName']}.{event_type.lower()}"
        assert message.exchange == queue.exchange
        assert message.headers == {"eventkind": kind, "eventtype": event_type, "x-origin": "kete-test"}
        assert message.content_type == "application/json"
        assert message.delivery_mode == 2  # persistent, KETE's default
        assert message.priority in (None, 0)
        assert message.expiration is None


async def test_a_virtual_host_priority_and_time_to_live(rabbitmq, rabbitmq_names, tmp_path):
    url = f"amqp://kete:kete-secret@127.0.0.1:{rabbitmq.port('amqp')}/kete"
    queue = await at.declare(url, *rabbitmq_names)
    write_jsonl(tmp_path / "events.jsonl", at.make_events(3))
    config = at.kete_config(
        tmp_path,
        destination(
            rabbitmq, queue, **{"virtual-host": "kete", "priority": 7, "time-to-live-seconds": 60,
                                "delivery-mode": "NON-PERSISTENT"}
        ),
    )  # fmt: skip
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    got = await at.consume(queue, count=3)
    # expiration "60000" (ms) on the wire; aio-pika shows it in seconds
    assert [(m.priority, m.expiration, m.delivery_mode) for m in got] == [(7, 60, 1)] * 3


async def test_a_wrong_password_is_reported_and_nothing_is_dead_lettered(
    rabbitmq, rabbitmq_names, spawn_kete, tmp_path
):
    queue = await at.declare(rabbitmq.url, *rabbitmq_names)
    log = at.check_wrong_password(spawn_kete, tmp_path, destination(rabbitmq, queue), "RabbitMQ at 127.0.0.1:")
    assert "refused the login of user 'kete'" in log and "ACCESS_REFUSED" in log, log


async def test_tls_with_a_client_certificate(rabbitmq, rabbitmq_names, tmp_path):
    queue = await at.declare(rabbitmq.url, *rabbitmq_names)
    write_jsonl(tmp_path / "events.jsonl", at.make_events(4))
    tls = at.mutual_tls(rabbitmq.pki)
    config = at.kete_config(tmp_path, destination(rabbitmq, queue, port=rabbitmq.port("amqps"), **tls))
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(await at.consume(queue, count=4)) == 4


async def test_tls_refuses_a_broker_it_does_not_trust(rabbitmq, rabbitmq_names, spawn_kete, tmp_path):
    queue = await at.declare(rabbitmq.url, *rabbitmq_names)
    write_jsonl(tmp_path / "events.jsonl", at.make_events(2))
    config = at.kete_config(
        tmp_path, destination(rabbitmq, queue, port=rabbitmq.port("amqps"), **{"tls.enabled": True})
    )
    kete = spawn_kete(config)
    kete.wait_for_log("the destination is not available yet: Unavailable: cannot reach RabbitMQ")
    assert kete.stop() == 1
    assert "CERTIFICATE_VERIFY_FAILED" in kete.log


async def test_a_nack_or_a_return_fails_that_event_alone(rabbitmq, rabbitmq_names):
    exchange, name = rabbitmq_names
    # A queue that takes two messages and refuses the rest (nack), bound to routing key "kept" only.
    queue = await at.declare(
        rabbitmq.url, exchange, name, "kept", **{"x-max-length": 2, "x-overflow": "reject-publish"}
    )
    settings = destination(rabbitmq, queue, **{"routing-key": "${realmLowerCase}", "mandatory": True})
    del settings["kind"]
    sink = build_sink("amqp-0.9.1", settings)
    realms = ["kept", "nowhere", "kept", "kept", "ghost"]
    events = [parse_event(user_event(number, realm=realm)) for number, realm in enumerate(realms)]
    messages = [Message(event, f'{{"id": "{event.id}"}}'.encode(), "application/json") for event in events]
    await sink.start()
    try:
        results = await sink.send(messages)
    finally:
        await sink.close()
    assert results is not None
    outcome = ["ok" if result is None else str(result) for result in results]
    assert outcome[0] == outcome[2] == "ok"
    assert "NO_ROUTE" in outcome[1] and "routing key 'nowhere'" in outcome[1]
    assert "nack" in outcome[3]
    assert "NO_ROUTE" in outcome[4]
    assert len(await at.consume(queue, count=2)) == 2


async def test_a_missing_exchange_fails_its_events_alone(rabbitmq, rabbitmq_names):
    queue = await at.declare(rabbitmq.url, *rabbitmq_names)
    settings = destination(rabbitmq, queue, exchange=f"{queue.exchange}${{realmLowerCase}}", **{"routing-key": "k"})
    del settings["kind"]
    sink = build_sink("amqp-0.9.1", settings)
    events = [parse_event(user_event(1, realm="")), parse_event(user_event(2, realm="-missing"))]
    await sink.start()
    try:
        results = await sink.send([Message(event, b"{}", "application/json") for event in events])
    finally:
        await sink.close()
    assert results is not None
    assert "does not exist" in str(results[1])


async def test_the_broker_restarted_mid_run_loses_nothing(rabbitmq, rabbitmq_names, tmp_path):
    queue = await at.declare(rabbitmq.url, *rabbitmq_names)
    report = await at.through_a_restart(rabbitmq, queue, tmp_path, destination(rabbitmq, queue))
    assert "cannot reach RabbitMQ at 127.0.0.1" in report.not_ready, report.not_ready


async def test_a_kete_properties_configuration_runs_unchanged(rabbitmq, rabbitmq_names, tmp_path):
    queue = await at.declare(rabbitmq.url, *rabbitmq_names)
    write_jsonl(tmp_path / "events.jsonl", at.make_events(6))
    config = tmp_path / "kete.properties"
    config.write_text(
        f"kete.data-dir={tmp_path / 'data'}\n"
        "kete.sources.replay.kind=file\n"
        f"kete.sources.replay.path={tmp_path / 'events.jsonl'}\n"
        # KETE's keys, as its documentation writes them.
        "kete.routes.rabbit.destination.kind=amqp-0.9.1\n"
        "kete.routes.rabbit.destination.host=127.0.0.1\n"
        f"kete.routes.rabbit.destination.port={rabbitmq.port('amqp')}\n"
        "kete.routes.rabbit.destination.username=kete\n"
        "kete.routes.rabbit.destination.password=kete-secret\n"
        "kete.routes.rabbit.destination.virtual-host=/\n"
        f"kete.routes.rabbit.destination.exchange={queue.exchange}\n"
        "kete.routes.rabbit.destination.routing-key=keycloak.${realmLowerCase}.${eventTypeLowerCase}\n"
        "kete.routes.rabbit.destination.delivery-mode=persistent\n"
        "kete.routes.rabbit.destination.publisher-confirms=true\n"
        "kete.routes.rabbit.destination.confirm-timeout-seconds=30\n"
        "kete.routes.rabbit.destination.connection-timeout-seconds=10\n"
        "kete.routes.rabbit.destination.requested-heartbeat-seconds=30\n"
        "kete.routes.rabbit.destination.automatic-recovery-enabled=true\n"
        "kete.routes.rabbit.destination.headers.x-source=keycloak\n"
        "kete.routes.rabbit.destination.pool.max-total=4\n"
    )
    result = run_kete("run", str(config), cwd=tmp_path)
    assert "route rabbit: 6 matched, 6 delivered, 0 failed" in result.stdout + result.stderr, result.stderr
    got = await at.consume(queue, count=6)
    assert {message.routing_key for message in got} >= {"keycloak.acme.login", "keycloak.master.login"}
