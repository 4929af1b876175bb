"""The amqp-0.9.1 sink through ``kete run`` against the real RabbitMQ: addresses and metadata as KETE sends
them, a virtual host and its user, a wrong password, TLS, refused messages, and the broker restarted mid-run."""

from __future__ import annotations

import pytest

from kete_core.testing import replay_config, write_jsonl
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
    at.deliver(
        tmp_path,
        events,
        destination(
            rabbitmq, queue, **{"routing-key": "${kindLowerCase}.${realmLowerCase}.${eventTypeLowerCase}",
                                "headers.x-origin": "kete-test", "headers.eventkind": "overridden"}
        ),
    )  # fmt: skip
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
    at.deliver(
        tmp_path,
        at.make_events(3),
        destination(
            rabbitmq, queue, **{"virtual-host": "kete", "priority": 7, "time-to-live-seconds": 60,
                                "delivery-mode": "NON-PERSISTENT"}
        ),
    )  # fmt: skip
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
    tls = at.mutual_tls(rabbitmq.pki)
    at.deliver(tmp_path, at.make_events(4), destination(rabbitmq, queue, port=rabbitmq.port("amqps"), **tls))
    assert len(await at.consume(queue, count=4)) == 4


async def test_tls_refuses_a_broker_it_does_not_trust(rabbitmq, rabbitmq_names, spawn_kete, tmp_path):
    queue = await at.declare(rabbitmq.url, *rabbitmq_names)
    write_jsonl(tmp_path / "events.jsonl", at.make_events(2))
    config = replay_config(tmp_path, destination(rabbitmq, queue, port=rabbitmq.port("amqps"), **{"tls.enabled": True}))
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
    _, results = await at.send_by_realm(settings, ["kept", "nowhere", "kept", "kept", "ghost"])
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
    _, results = await at.send_by_realm(settings, ["", "-missing"])
    assert results is not None
    assert "does not exist" in str(results[1])


async def test_the_broker_restarted_mid_run_loses_nothing(rabbitmq, rabbitmq_names, tmp_path):
    queue = await at.declare(rabbitmq.url, *rabbitmq_names)
    report = await at.through_a_restart(rabbitmq, queue, tmp_path, destination(rabbitmq, queue))
    assert "cannot reach RabbitMQ at 127.0.0.1" in report.not_ready, report.not_ready


async def test_a_kete_properties_configuration_runs_unchanged(rabbitmq, rabbitmq_names, tmp_path):
    queue = await at.declare(rabbitmq.url, *rabbitmq_names)
    # KETE's keys, as its documentation writes them.
    at.deliver_kete_properties(
        tmp_path,
        "rabbit",
        {
            "kind": "amqp-0.9.1",
            "host": "127.0.0.1",
            "port": rabbitmq.port("amqp"),
            "username": "kete",
            "password": "kete-secret",
            "virtual-host": "/",
            "exchange": queue.exchange,
            "routing-key": "keycloak.${realmLowerCase}.${eventTypeLowerCase}",
            "delivery-mode": "persistent",
            "publisher-confirms": "true",
            "confirm-timeout-seconds": 30,
            "connection-timeout-seconds": 10,
            "requested-heartbeat-seconds": 30,
            "automatic-recovery-enabled": "true",
            "headers.x-source": "keycloak",
            "pool.max-total": 4,
        },
    )
    got = await at.consume(queue, count=6)
    assert {message.routing_key for message in got} >= {"keycloak.acme.login", "keycloak.master.login"}
