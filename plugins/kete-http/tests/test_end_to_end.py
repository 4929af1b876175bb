"""HTTP source → route → HTTP sink, run the way users run kete, with every event accounted for."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import hmac
import os
import re
import signal
import sys
import time
from urllib.parse import unquote

import aiohttp
import orjson

from kete_core.pipeline import Pipeline
from kete_core.testing import load_app, read_jsonl
from kete_core.testing.contracts import running


def _sign(body: bytes, secret: bytes) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def _requests(count: int) -> list[list[dict]]:
    """*count* webhook requests in the shapes senders use: KETE JSON, p2-inc, vymalo, arrays of them."""
    requests = []
    for number in range(count):
        realm = ("acme", "Partner Portal", "master")[number % 3]
        shape = number % 4
        if shape == 0:
            requests.append([{"id": f"k{number}", "type": "LOGIN", "realmName": realm, "time": number}])
        elif shape == 1:
            requests.append([{"id": f"p{number}", "uid": f"u{number}", "type": "admin.USER-CREATE", "realmName": realm,
                              "resourceType": "USER", "operationType": "CREATE", "authDetails": {"realmId": "master"}}])  # fmt: skip
        elif shape == 2:
            requests.append([{"id": f"v{number}", "type": "LOGOUT", "realmId": "r", "realmName": realm}])
        else:
            requests.append([{"id": f"a{number}-{i}", "type": "CODE_TO_TOKEN", "realmName": realm} for i in range(5)])
    return requests


async def _until(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_kete_run_chains_http_source_route_and_http_sink(tmp_path, start_receiver):
    receiver = await start_receiver()
    receiver.fail(500, (503, {"Retry-After": "0"}), 502)  # the sink retries these itself
    config = tmp_path / "kete.toml"
    config.write_text(
        f"""
[sources.hook]
kind = "http"
port = 0
path = "/keycloak"
signing.secret = "inbound"

[routes.siem]
destination.kind = "http"
destination.url = "{receiver.url}/siem/${{realmKebabCase}}"
destination.headers.x-kind = "${{kindKebabCase}}"
destination.signing.secret = "outbound"
destination.content-encoding = "gzip"
destination.retry-initial-backoff = "10ms"

[routes.admin-audit]
event-matchers.created = "glob:*_CREATE"
destination.kind = "file"
destination.path = "{tmp_path}/audit.jsonl"
"""
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kete_core.cli", "run", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")},  # where a spool would go
    )  # fmt: skip
    log: list[str] = []
    try:
        url = None
        while url is None:
            line = (await asyncio.wait_for(process.stderr.readline(), 20)).decode()
            assert line, "kete exited early:\n" + "".join(log)
            log.append(line)
            found = re.search(r"listening on (http://127\.0\.0\.1:\d+/keycloak)", line)
            url = found.group(1) if found else None

        async def drain() -> None:
            while line := await process.stderr.readline():
                log.append(line.decode())

        draining = asyncio.create_task(drain())
        requests = _requests(40)
        async with aiohttp.ClientSession() as client:

            async def post(events: list[dict]) -> int:
                body = orjson.dumps(events if len(events) > 1 else events[0])
                headers = {"Content-Type": "application/json", "X-Keycloak-Signature": _sign(body, b"inbound")}
                while True:  # as senders do: a 503 (kete would have to wait to accept) is sent again
                    async with client.post(url, data=body, headers=headers) as response:
                        if response.status != 503:
                            return response.status
                        assert response.headers["Retry-After"] == "1"
                    await asyncio.sleep(0.05)

            statuses = await asyncio.gather(*(post(events) for events in requests))
            assert set(statuses) == {202}
            async with client.post(url, data=b"[]", headers={"Content-Type": "application/json"}) as response:
                assert response.status == 401  # unsigned
        sent = {event["id"] for events in requests for event in events}
        await _until(lambda: len(receiver.requests) >= len(sent) + 3)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0, "".join(log)
        await draining
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    delivered = receiver.requests[3:]
    bodies = [orjson.loads(gzip.decompress(r.body)) for r in delivered]
    assert {body["id"] for body in bodies} == sent  # every event reached the receiver ...
    assert len(receiver.requests) == len(sent) + 3  # ... once, plus the three answered with errors and retried
    for request, body in zip(delivered, bodies, strict=True):
        assert request.headers["X-Keycloak-Signature"] == _sign(request.body, b"outbound")
        # KebabCase as KETE's Guava computes it: underscores become hyphens, spaces stay (sent as %20).
        assert unquote(request.path) == "/siem/" + body["realmName"].lower().replace("_", "-")
        assert request.headers["x-kind"] == ("admin-event" if body["id"].startswith("p") else "event")
    audit = read_jsonl(tmp_path / "audit.jsonl")
    assert sorted(event["id"] for event in audit) == sorted(i for i in sent if i.startswith("p"))
    assert "resourceType" in audit[0] and "type" not in audit[0]
    summary = next(line for line in log if "done:" in line)
    assert f"{len(sent)} events received, 0 rejected" in summary
    assert f"route siem: {len(sent)} matched, {len(sent)} delivered, 0 failed" in summary
    assert "route admin-audit: 10 matched, 10 delivered, 0 failed" in summary


async def test_in_process_pipeline_back_pressure_answers_503_and_loses_nothing(tmp_path, start_receiver, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    receiver = await start_receiver()
    receiver.delay = 0.05
    # kete is congested when its spool is full (kete-core with a spool) or a route's queue is (before).
    limit = "spool-max-events = 3"
    config = tmp_path / "kete.toml"
    config.write_text(
        f"""
[kete]
{limit}

[sources.hook]
kind = "http"
port = 0
retry-after = "1s"

[routes.slow]
destination.kind = "http"
destination.url = "{receiver.url}/slow"
destination.max-concurrency = 1
"""
    )
    app = load_app(config)
    pipeline = Pipeline(app)
    running = asyncio.create_task(pipeline.run())
    try:
        source = app.sources[0]
        await asyncio.wait_for(source.listening.wait(), 5)
        url = f"http://127.0.0.1:{source.port}/"
        accepted: list[str] = []
        refused = 0
        async with aiohttp.ClientSession() as client:

            async def post(number: int) -> None:
                nonlocal refused
                body = {"type": "LOGIN", "id": str(number), "realmName": "acme"}
                async with client.post(url, json=body) as response:
                    if response.status == 202:
                        accepted.append(str(number))
                    else:
                        assert response.status == 503 and response.headers["Retry-After"] == "1"
                        refused += 1

            for _ in range(3):
                await asyncio.gather(*(post(number) for number in range(len(accepted) + refused, 30)))
        assert refused > 0 and accepted
    finally:
        pipeline.request_stop()
        stats = await asyncio.wait_for(running, 20)
    received = stats.received if isinstance(stats.received, int) else sum(stats.received.values())
    assert received == len(accepted)
    assert stats.routes["slow"].delivered == len(accepted)
    assert sorted(r.json()["id"] for r in receiver.requests) == sorted(accepted)


async def test_a_slow_destination_gets_senders_503_never_a_hanging_request(tmp_path, start_receiver, monkeypatch):
    """With default settings, a destination that is slow (answers nothing yet, not failed) fills the
    route's in-memory queue; every further POST must be answered 503 + Retry-After at once rather than
    wait inside submit, and every event answered 202 is delivered once the destination answers."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    receiver = await start_receiver()
    receiver.gate = asyncio.Event()
    config = tmp_path / "kete.toml"
    config.write_text(
        f"""
[sources.hook]
kind = "http"
port = 0

[routes.slow]
destination.kind = "http"
destination.url = "{receiver.url}/slow"
destination.timeout-seconds = "60s"
"""
    )
    app = load_app(config)
    async with running(app) as run:
        source = app.sources[0]
        await asyncio.wait_for(source.listening.wait(), 5)
        url = f"http://127.0.0.1:{source.port}/"
        answers: dict[str, tuple[int, str | None]] = {}
        try:
            async with aiohttp.ClientSession() as client:

                async def post(number: int) -> None:
                    body = {"type": "LOGIN", "id": str(number), "realmName": "acme"}
                    async with client.post(url, json=body) as response:
                        answers[str(number)] = (response.status, response.headers.get("Retry-After"))

                # The destination answers nothing until the gate opens: a request held inside kete
                # would still be waiting here, and this guard (not a speed target) would end the test.
                await asyncio.wait_for(asyncio.gather(*(post(number) for number in range(60))), 20)
                assert not receiver.gate.is_set()
        finally:
            receiver.gate.set()
    accepted = sorted(number for number, (status, _) in answers.items() if status == 202)
    refused = [answer for answer in answers.values() if answer[0] != 202]
    assert refused and all(answer == (503, "1") for answer in refused)
    assert len(accepted) >= 17  # one in the sink, a full queue of 16 behind it
    assert run.stats is not None and run.stats.routes["slow"].delivered == len(accepted)
    assert sorted(r.json()["id"] for r in receiver.requests) == accepted


def test_a_kete_properties_configuration_builds(tmp_path):
    config = tmp_path / "kete.properties"
    config.write_text(
        "\n".join(
            [
                "kete.routes.siem.destination.kind=http",
                "kete.routes.siem.destination.host=siem.internal",
                "kete.routes.siem.destination.port=8443",
                "kete.routes.siem.destination.path-and-query=/ingest?realm=${realmLowerCase}",
                "kete.routes.siem.destination.method=put",
                "kete.routes.siem.destination.timeout-seconds=5",
                "kete.routes.siem.destination.content-encoding=gzip",
                "kete.routes.siem.destination.content-transfer-encoding=base64",
                "kete.routes.siem.destination.authentication-type=oauth",
                "kete.routes.siem.destination.oauth.enabled=true",
                "kete.routes.siem.destination.oauth.token-url=https://idp.internal/token",
                "kete.routes.siem.destination.oauth.client-id=kete",
                "kete.routes.siem.destination.oauth.client-secret=secret",
                "kete.routes.siem.destination.oauth.scope=a b",
                "kete.routes.siem.destination.oauth.timeout-seconds=3",
                "kete.routes.siem.destination.headers.X-Source=keycloak",
                "kete.routes.siem.destination.tls.enabled=true",
                "kete.routes.siem.destination.tls.version=TLSv1.2",
                "kete.routes.siem.destination.tls.verify-hostname=false",
                "kete.routes.siem.destination.pool.max-total=20",
                "kete.routes.api.destination.kind=http",
                "kete.routes.api.destination.url=http://api.internal/events",
                "kete.routes.api.destination.authentication-type=x-api-key",
                "kete.routes.api.destination.x-api-key-value=k",
            ]
        )
    )
    app = load_app(config)
    siem, api = app.routes
    assert siem.sink.url.source == "https://siem.internal:8443/ingest?realm=${realmLowerCase}"
    assert siem.sink.config.method == "PUT" and siem.sink.config.timeout_seconds == 5
    assert siem.sink.config.oauth_active and siem.sink.config.oauth.scope == "a b"
    assert api.sink._static["X-API-Key"] == "k"
