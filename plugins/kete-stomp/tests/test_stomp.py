"""The stomp sink through ``kete run`` against the real RabbitMQ (its STOMP plugin): destinations and headers as
KETE sends them, a wrong password, TLS, a refused message, receipts off, and the broker restarted mid-run."""

from __future__ import annotations

import pytest

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
    headers = {"headers.x-origin": "kete-test", "headers.eventtype": "overridden"}
    at.deliver(tmp_path, events, destination(rabbitmq, queue, **headers))
    got = at.stomp_consume(rabbitmq.port("stomp"), queue.name, count=len(events))
    assert at.ids(got) == [event["id"] for event in events]
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
    tls = at.mutual_tls(rabbitmq.pki)
    at.deliver(tmp_path, at.make_events(4), destination(rabbitmq, queue, port=rabbitmq.port("stomps"), **tls))
    assert len(at.stomp_consume(rabbitmq.port("stomp"), queue.name, count=4)) == 4


async def test_a_refused_message_fails_alone_and_nothing_is_sent_twice(rabbitmq, rabbitmq_names):
    queue = await at.declare(rabbitmq.url, *rabbitmq_names)
    # "ghost" names an exchange that does not exist: RabbitMQ answers with an ERROR that names no receipt.
    settings = destination(rabbitmq, queue, destination="/exchange/${realmLowerCase}/k")
    realms = [queue.exchange] * 2 + ["ghost"] + [queue.exchange] * 2
    events, results = await at.send_by_realm(settings, realms)
    assert results is not None
    assert [result is None for result in results] == [True, True, False, True, True], results
    assert "no exchange" in str(results[2])
    got = at.stomp_consume(rabbitmq.port("stomp"), queue.name, idle=0.5)
    assert sorted(at.ids(got)) == sorted(events[number].id for number in (0, 1, 3, 4))


async def test_without_receipts_a_written_frame_counts(rabbitmq, rabbitmq_names, tmp_path):
    queue = await at.declare(rabbitmq.url, *rabbitmq_names)
    at.deliver(tmp_path, at.make_events(6), destination(rabbitmq, queue, **{"receipt-enabled": False}))
    got = at.stomp_consume(rabbitmq.port("stomp"), queue.name, count=6)
    assert all("receipt" not in message.headers for message in got)


async def test_the_broker_restarted_mid_run_loses_nothing(rabbitmq, rabbitmq_names, tmp_path):
    queue = await at.declare(rabbitmq.url, *rabbitmq_names)
    report = await at.through_a_restart(rabbitmq, queue, tmp_path, destination(rabbitmq, queue))
    assert "cannot reach the STOMP broker at 127.0.0.1" in report.not_ready, report.not_ready


async def test_a_kete_properties_configuration_runs_unchanged(rabbitmq, rabbitmq_names, tmp_path):
    queue = await at.declare(rabbitmq.url, *rabbitmq_names)
    # KETE's keys, as its documentation writes them (RabbitMQ's STOMP destination form).
    at.deliver_kete_properties(
        tmp_path,
        "stomp",
        destination(
            rabbitmq,
            queue,
            **{
                "destination": f"/exchange/{queue.exchange}/keycloak.${{realmLowerCase}}",
                "receipt-enabled": "true",
                "heart-beat-outgoing-seconds": 10,
                "heart-beat-incoming-seconds": 10,
                "read-timeout-seconds": 30,
                "headers.x-source": "keycloak",
                "pool.max-total": 4,
            },
        ),
    )
    got = at.stomp_consume(rabbitmq.port("stomp"), queue.name, count=6)
    assert all(message.headers["x-source"] == "keycloak" for message in got)
