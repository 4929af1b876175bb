"""The amqp-1 sink through ``kete run`` against the real RabbitMQ (its AMQP 1.0 plugin), read back by an AMQP 1.0
receiver: messages as KETE's Qpid JMS client builds them, a wrong password, TLS, an address the broker refuses, and
the broker restarted mid-run."""

from __future__ import annotations

import pytest
from proton import symbol

from tests.services import rabbitmq_client as at

pytestmark = pytest.mark.amqp


def destination(rabbitmq, queue, **more):
    return {
        "kind": "amqp-1",
        "host": "127.0.0.1",
        "port": rabbitmq.port("amqp"),
        "username": "kete",
        "password": "kete-secret",
        "destination-name": f"/exchange/{queue.exchange}/${{realmLowerCase}}.${{eventTypeLowerCase}}",
        "send-timeout-seconds": 5,
        **more,
    }


async def test_every_event_arrives_as_kete_sends_it(rabbitmq, rabbitmq_names, tmp_path):
    queue = await at.declare(rabbitmq.url, *rabbitmq_names)
    events = at.make_events(9)
    at.deliver(
        tmp_path,
        events,
        destination(rabbitmq, queue, **{"headers.x-origin": "kete-test", "headers.contenttype": "overridden",
                                        "priority": 6, "time-to-live-seconds": 120}),
    )  # fmt: skip
    got = at.amqp1_consume(rabbitmq.port("amqp"), queue.name, count=len(events))
    assert at.ids(got) == [event["id"] for event in events]
    for message, event in zip(got, events, strict=True):
        admin = "resourceType" in event
        assert message.properties == {
            "eventkind": "ADMIN_EVENT" if admin else "EVENT",
            "eventtype": "USER_CREATE" if admin else "LOGIN",
            "contenttype": "application/json",
            "x-origin": "kete-test",
        }
        assert message.durable is True
        assert message.priority == 6
        assert message.ttl == 120
        assert message.annotations[symbol("x-opt-jms-msg-type")] == 3


async def test_a_wrong_password_is_reported_and_nothing_is_dead_lettered(
    rabbitmq, rabbitmq_names, spawn_kete, tmp_path
):
    queue = await at.declare(rabbitmq.url, *rabbitmq_names)
    log = at.check_wrong_password(
        spawn_kete, tmp_path, destination(rabbitmq, queue), "the AMQP 1.0 broker at 127.0.0.1:"
    )
    assert "refused the login of user 'kete'" in log and "amqp:unauthorized-access" in log, log


async def test_tls_with_a_client_certificate(rabbitmq, rabbitmq_names, tmp_path):
    queue = await at.declare(rabbitmq.url, *rabbitmq_names)
    tls = at.mutual_tls(rabbitmq.pki)
    at.deliver(tmp_path, at.make_events(4), destination(rabbitmq, queue, port=rabbitmq.port("amqps"), **tls))
    assert len(at.amqp1_consume(rabbitmq.port("amqp"), queue.name, count=4)) == 4


async def test_an_address_the_broker_refuses_fails_that_event_alone(rabbitmq, rabbitmq_names):
    queue = await at.declare(rabbitmq.url, *rabbitmq_names)
    settings = destination(rabbitmq, queue, **{"destination-name": "/exchange/${realmLowerCase}/k"})
    realms = [queue.exchange] * 2 + ["no-such-exchange"] + [queue.exchange] * 2
    events, results = await at.send_by_realm(settings, realms)
    assert results is not None
    assert [result is None for result in results] == [True, True, False, True, True], results
    assert "no-such-exchange" in str(results[2])
    got = at.amqp1_consume(rabbitmq.port("amqp"), queue.name, idle=0.5)
    assert at.ids(got) == [events[n].id for n in (0, 1, 3, 4)]


async def test_the_broker_restarted_mid_run_loses_nothing(rabbitmq, rabbitmq_names, tmp_path):
    queue = await at.declare(rabbitmq.url, *rabbitmq_names)
    report = await at.through_a_restart(rabbitmq, queue, tmp_path, destination(rabbitmq, queue))
    assert "cannot reach the AMQP 1.0 broker at 127.0.0.1" in report.not_ready, report.not_ready


async def test_a_kete_properties_configuration_runs_unchanged(rabbitmq, rabbitmq_names, tmp_path):
    queue = await at.declare(rabbitmq.url, *rabbitmq_names)
    # KETE's keys, as its documentation writes them (RabbitMQ 3's address form in destination-name).
    at.deliver_kete_properties(
        tmp_path,
        "amqp",
        {
            "kind": "amqp-1",
            "host": "127.0.0.1",
            "port": rabbitmq.port("amqp"),
            "username": "kete",
            "password": "kete-secret",
            "destination-name": f"/exchange/{queue.exchange}/keycloak.${{realmLowerCase}}",
            "destination-type": "queue",
            "delivery-mode": "persistent",
            "priority": 4,
            "time-to-live-seconds": 0,
            "idle-timeout-seconds": 30,
            "headers.X-Source": "keycloak",
            "pool.max-total": 4,
        },
    )
    got = at.amqp1_consume(rabbitmq.port("amqp"), queue.name, count=6)
    assert all(message.properties["X-Source"] == "keycloak" for message in got)
