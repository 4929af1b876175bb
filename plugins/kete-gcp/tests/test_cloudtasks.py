"""The gcp-cloud-tasks sink against a real Cloud Tasks gRPC server: a KETE configuration as it is, tasks
read back with their queue, URL, method, headers and body, a refused task failing alone, an outage
mid-run, and credentials the service refuses."""

from __future__ import annotations

import asyncio
import base64
import gzip
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


def _settings(cloud_tasks, **more):
    return {
        "project": cloud_tasks.project,
        "location": cloud_tasks.location,
        "queue": "events",
        "target-url": "https://worker.example.com/events",
        "endpoint": cloud_tasks.endpoint,
        "use-plaintext": True,
    } | more


async def test_a_kete_properties_configuration_runs_unchanged(tmp_path, pubsub, cloud_tasks):
    events = [admin_event(n) if n % 4 == 0 else user_event(n, realm=("acme", "master")[n % 2]) for n in range(1, 21)]
    write_jsonl(tmp_path / "events.jsonl", events)
    cloud_tasks.refuse = lambda task: task.queue == "events" and b'"e7"' in gzip.decompress(base64.b64decode(task.body))
    key = base64.b64encode(json.dumps(pubsub.service_account()).encode()).decode()
    route = "kete.routes.tasks.destination"
    by_realm = "kete.routes.by-realm.destination"
    config = replay_properties(
        tmp_path,
        # The gcp-cloud-tasks route as KETE documents it, unchanged.
        f"{route}.kind=gcp-cloud-tasks\n"
        f"{route}.endpoint={cloud_tasks.endpoint}\n"
        f"{route}.use-plaintext=true\n"
        f"{route}.project={cloud_tasks.project}\n"
        f"{route}.location={cloud_tasks.location}\n"
        f"{route}.queue=events\n"
        f"{route}.target-url=https://worker.example.com/keycloak\n"
        f"{route}.http-method=put\n"
        f"{route}.content-encoding=gzip\n"
        f"{route}.content-transfer-encoding=base64\n"
        f"{route}.authentication-type=service-account-file-base64\n"
        f"{route}.credentials-file-base64={key}\n"
        f"{route}.headers.x-source=keycloak\n"
        f"{route}.timeout-seconds=5\n"
        "kete.routes.tasks.retry.max-attempts=1\n"
        # A templated queue: one per realm; there is no queue 'master', so its events fail alone.
        f"{by_realm}.kind=gcp-cloud-tasks\n"
        f"{by_realm}.endpoint={cloud_tasks.endpoint}\n"
        f"{by_realm}.use-plaintext=true\n"
        f"{by_realm}.project={cloud_tasks.project}\n"
        f"{by_realm}.location={cloud_tasks.location}\n"
        f"{by_realm}.queue=${{realmLowerCase}}\n"
        f"{by_realm}.target-url=https://worker.example.com/by-realm\n"
        f"{by_realm}.authentication-type=service-account-file-base64\n"
        f"{by_realm}.credentials-file-base64={key}\n"
        "kete.routes.by-realm.retry.max-attempts=1\n",
    )
    result = await asyncio.to_thread(run_kete, "run", str(config))
    log = result.stdout + result.stderr
    assert "route tasks: 20 matched, 19 delivered, 1 failed" in log, log
    assert "route by-realm: 20 matched, 10 delivered, 10 failed" in log, log
    main = [task for task in cloud_tasks.tasks if task.queue == "events"]
    bodies = [orjson.loads(gzip.decompress(base64.b64decode(task.body))) for task in main]
    assert sorted(body["id"] for body in bodies) == sorted(event["id"] for event in events if event["id"] != "e7")
    for task, body in zip(main, bodies, strict=True):
        admin = body["id"].startswith("a")
        assert (task.url, task.method) == ("https://worker.example.com/keycloak", "PUT")
        assert task.headers == {
            "x-source": "keycloak",
            "eventkind": "ADMIN_EVENT" if admin else "EVENT",
            "eventtype": "USER_CREATE" if admin else "LOGIN",
            "contenttype": "application/json",
        }
    realm = [task for task in cloud_tasks.tasks if task.queue != "events"]
    assert {task.queue for task in realm} == {"acme"}
    assert all((task.url, task.method) == ("https://worker.example.com/by-realm", "POST") for task in realm)
    assert [orjson.loads(task.body)["realmName"] for task in realm] == ["acme"] * 10
    assert len(pubsub.issued) <= 2  # one token per route, cached


async def test_a_refused_task_fails_alone(pubsub, cloud_tasks, key_file):
    settings = {"authentication-type": "service-account-file-path", "credentials-file-path": str(key_file)}
    sink = build_sink("gcp-cloud-tasks", _settings(cloud_tasks, **settings))
    cloud_tasks.refuse = lambda task: b'"e3"' in task.body
    results = await send_once(sink, [json_message(n) for n in range(1, 7)])
    assert results is not None
    assert [error is not None for error in results] == [False, False, True, False, False, False]
    assert isinstance(results[2], PermanentError) and "INVALID_ARGUMENT" in str(results[2])
    assert sorted(orjson.loads(task.body)["id"] for task in cloud_tasks.tasks) == ["e1", "e2", "e4", "e5", "e6"]


async def test_the_service_going_away_mid_run_loses_nothing(tmp_path, cloud_tasks):
    cloud_tasks.tokens = None  # an emulator: no credentials
    report = await run_through_an_outage(
        tmp_path,
        {"kind": "gcp-cloud-tasks", **_settings(cloud_tasks, **{"timeout-seconds": 2})},
        received=lambda: [orjson.loads(task.body)["id"] for task in cloud_tasks.tasks],
        stop=cloud_tasks.stop,
        start=cloud_tasks.start,
    )
    assert "UNAVAILABLE" in report.not_ready, report.not_ready
    assert len(cloud_tasks.tasks) == len(report.sent)


async def test_a_token_the_service_refuses_is_a_clear_error(pubsub, cloud_tasks, key_file):
    cloud_tasks.tokens = ["ya29.another-token"]  # the service does not know this token endpoint's tokens
    settings = {"authentication-type": "service-account-file-path", "credentials-file-path": str(key_file)}
    sink = build_sink("gcp-cloud-tasks", _settings(cloud_tasks, **settings))
    with pytest.raises(PermanentError, match=r"refused kete's credentials.*UNAUTHENTICATED.*check authentication-type"):
        await sink.start()
    await sink.close()


async def test_credentials_the_token_endpoint_refuses_are_a_clear_error(pubsub, cloud_tasks):
    stranger = pubsub.service_account(key=rsa.generate_private_key(65537, 2048))
    settings = {"authentication-type": "service-account-file-text", "credentials-file-text": json.dumps(stranger)}
    sink = build_sink("gcp-cloud-tasks", _settings(cloud_tasks, **settings))
    with pytest.raises(PermanentError, match=r"HTTP 400.*invalid_grant.*check authentication-type"):
        await sink.start()
    await sink.close()


async def test_a_missing_queue_is_refused_at_start(cloud_tasks):
    cloud_tasks.tokens = None
    sink = build_sink("gcp-cloud-tasks", _settings(cloud_tasks, queue="nowhere"))
    with pytest.raises(PermanentError, match=r"queues/nowhere: gRPC NOT_FOUND"):
        await sink.start()
    await sink.close()


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"http-method": "FETCH"}, r"http-method: must be a valid HTTP method"),
        ({"target-url": "worker/events"}, r"target-url: 'target-url' is required and must be a valid absolute URL"),
        ({"endpoint": "cloudtasks.googleapis.com"}, r"endpoint: must be host:port"),
        ({"endpoint": "cloudtasks.googleapis.com:443", "use-plaintext": False},
         r"credentials are required for cloudtasks.googleapis.com:443"),
        ({"location": " "}, r"location: 'location' is required"),
        ({"queue": "my_queue"}, r"queue: not a Cloud Tasks queue id"),
    ],
)  # fmt: skip
def test_unusable_settings_are_refused_at_load(settings, problem):
    base = {"project": "p", "location": "l", "queue": "events", "target-url": "http://127.0.0.1/",
            "endpoint": "127.0.0.1:9", "use-plaintext": True}  # fmt: skip
    with pytest.raises(ConfigErrors, match=problem):
        build_sink("gcp-cloud-tasks", base | settings)
