"""The gcp-pubsub sink against a real Pub/Sub REST server: a KETE configuration as it is, attributes and
ordering keys read back, a refused message failing alone, an outage mid-run, and credentials."""

from __future__ import annotations

import asyncio
import base64
import json

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kete_core import ConfigErrors, PermanentError
from kete_core.testing import (
    admin_event,
    build_sink,
    json_message,
    replay_properties,
    run_kete,
    send_once,
    user_event,
    write_jsonl,
)
from kete_core.testing.outage import run_through_an_outage

pytestmark = pytest.mark.gcp


async def test_a_kete_properties_configuration_runs_unchanged(tmp_path, pubsub):
    events = [admin_event(n) if n % 4 == 0 else user_event(n, realm=("acme", "master")[n % 2]) for n in range(1, 21)]
    write_jsonl(tmp_path / "events.jsonl", events)
    pubsub.refuse = lambda message: b'"e7"' in message.data
    key = base64.b64encode(json.dumps(pubsub.service_account()).encode()).decode()
    config = replay_properties(
        tmp_path,
        # The gcp-pubsub route as KETE documents it, unchanged.
        "kete.routes.pubsub.destination.kind=gcp-pubsub\n"
        f"kete.routes.pubsub.destination.project={pubsub.project}\n"
        "kete.routes.pubsub.destination.topic=events\n"
        f"kete.routes.pubsub.destination.url={pubsub.url}\n"
        "kete.routes.pubsub.destination.ordering-key=${realmCamelCase}\n"
        "kete.routes.pubsub.destination.authentication-type=service-account-file-base64\n"
        f"kete.routes.pubsub.destination.credentials-file-base64={key}\n"
        "kete.routes.pubsub.destination.headers.x-source=keycloak\n"
        "kete.routes.pubsub.destination.timeout-seconds=5\n"
        "kete.routes.pubsub.retry.max-attempts=1\n"
        # A templated topic: one per realm; topic 'master' is deleted below, so its events fail alone.
        "kete.routes.by-realm.destination.kind=gcp-pubsub\n"
        f"kete.routes.by-realm.destination.project={pubsub.project}\n"
        "kete.routes.by-realm.destination.topic=${realmLowerCase}\n"
        f"kete.routes.by-realm.destination.url={pubsub.url}\n"
        "kete.routes.by-realm.destination.authentication-type=service-account-file-base64\n"
        f"kete.routes.by-realm.destination.credentials-file-base64={key}\n"
        "kete.routes.by-realm.retry.max-attempts=1\n",
    )
    pubsub.topics.discard("master")
    result = await asyncio.to_thread(run_kete, "run", str(config))
    log = result.stdout + result.stderr
    assert "route pubsub: 20 matched, 19 delivered, 1 failed" in log, log
    assert "route by-realm: 20 matched, 10 delivered, 10 failed" in log, log
    main = [message for message in pubsub.published if message.topic == "events"]
    assert sorted(orjson.loads(message.data)["id"] for message in main) == sorted(
        event["id"] for event in events if event["id"] != "e7"
    )
    for message in main:
        body = orjson.loads(message.data)
        admin = body["id"].startswith("a")
        assert message.attributes == {
            "x-source": "keycloak",
            "eventkind": "ADMIN_EVENT" if admin else "EVENT",
            "eventtype": "USER_CREATE" if admin else "LOGIN",
            "contenttype": "application/json",
        }
        assert message.ordering_key == body["realmName"]  # acme, master: camel case as they are
    assert {message.topic for message in pubsub.published} == {"events", "acme"}
    assert len(pubsub.issued) <= 2  # one token per route, cached


async def test_a_refused_message_fails_alone(pubsub, key_file):
    sink = build_sink(
        "gcp-pubsub",
        {"project": pubsub.project, "topic": "events", "url": pubsub.url,
         "authentication-type": "service-account-file-path", "credentials-file-path": str(key_file)},
    )  # fmt: skip
    pubsub.refuse = lambda message: b'"e3"' in message.data
    messages = [json_message(n) for n in range(1, 7)]
    results = await send_once(sink, messages)
    assert results is not None
    assert [type(error).__name__ if error else None for error in results] == [None, None, "_Refused", None, None, None]
    assert isinstance(results[2], PermanentError) and "INVALID_ARGUMENT" in str(results[2])
    assert sorted(orjson.loads(message.data)["id"] for message in pubsub.published) == ["e1", "e2", "e4", "e5", "e6"]
    assert len(pubsub.requests) == 1 + 6  # the batch, refused as a whole; then each message alone


async def test_the_service_going_away_mid_run_loses_nothing(tmp_path, pubsub):
    pubsub.authenticate = False  # an emulator: no credentials
    report = await run_through_an_outage(
        tmp_path,
        {"kind": "gcp-pubsub", "project": pubsub.project, "topic": "events", "url": pubsub.url, "timeout-seconds": 2},
        received=lambda: [orjson.loads(message.data)["id"] for message in pubsub.published],
        stop=pubsub.stop,
        start=pubsub.start,
    )
    assert "ClientConnectorError" in report.not_ready or "Connect" in report.not_ready, report.not_ready
    assert len(pubsub.published) == len(report.sent)


async def test_credentials_the_token_endpoint_refuses_are_a_clear_error(pubsub, tmp_path):
    stranger = pubsub.service_account(key=rsa.generate_private_key(65537, 2048))
    sink = build_sink(
        "gcp-pubsub",
        {"project": pubsub.project, "topic": "events", "url": pubsub.url,
         "authentication-type": "service-account-file-text", "credentials-file-text": json.dumps(stranger)},
    )  # fmt: skip
    with pytest.raises(PermanentError, match=r"HTTP 400.*invalid_grant.*check authentication-type"):
        await sink.start()
    await sink.close()


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"authentication-type": "service-account-file-path", "credentials-file-path": "/nonexistent/key.json"},
         r"credentials-file-path: cannot read /nonexistent/key.json"),
        ({"authentication-type": "service-account-file-base64", "credentials-file-base64": "%%%"},
         r"credentials-file-base64: not Base64"),
        ({"authentication-type": "service-account-file-text", "credentials-file-text": '{"type": "service_account"}'},
         r"credentials-file-text: not a service-account key: it has no 'client_email'"),
        ({"authentication-type": "service-account-file-text"}, r"credentials-file-text: required when"),
        ({"authentication-type": "application-default", "credentials-file-path": "/k.json"},
         r"cannot be set when authentication-type is 'application-default'"),
        ({"url": "https://pubsub.googleapis.com"}, r"credentials are required for https://pubsub.googleapis.com"),
        ({"authentication-type": "api-key"}, r"authentication-type"),
    ],
)  # fmt: skip
def test_unusable_credentials_are_refused_at_load(settings, problem):
    base = {"project": "p", "topic": "events", "url": "http://127.0.0.1:9"}
    with pytest.raises(ConfigErrors, match=problem):
        build_sink("gcp-pubsub", base | settings)


async def test_application_default_credentials_come_from_the_named_file(pubsub, key_file, monkeypatch):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    sink = build_sink(
        "gcp-pubsub",
        {"project": pubsub.project, "topic": "events", "url": pubsub.url, "authentication-type": "application-default"},
    )
    assert await send_once(sink, [json_message(1)]) is None
    assert [message.attributes["eventtype"] for message in pubsub.published] == ["LOGIN"]


async def test_an_emulator_gets_no_authorization_and_a_batch_one_request(pubsub):
    pubsub.authenticate = False
    sink = build_sink("gcp-pubsub", {"project": pubsub.project, "topic": "acme", "url": pubsub.url})
    assert await send_once(sink, [json_message(n) for n in range(1, 11)]) is None
    assert not pubsub.issued
    assert pubsub.requests == ["acme"]
    assert [orjson.loads(message.data)["id"] for message in pubsub.published] == [f"e{n}" for n in range(1, 11)]
