"""``kete run`` with a KETE configuration against the real Pulsar broker: every event is read back by an
independent ``pulsar-client`` consumer on its templated topic, keyed by its event type and carrying KETE's
properties; token, Basic and OAuth 2.0 authentication, and a wrong token refused at start."""

from __future__ import annotations

import asyncio
import re
import threading
from collections import Counter
from pathlib import Path

import orjson
import pytest
from aiohttp import web

from kete_core.testing import admin_event, run_kete, user_event, write_jsonl
from kete_core.testing.services import free_ports

pytestmark = pytest.mark.pulsar


def events() -> list[dict]:
    """User and admin events in two realms."""
    found = []
    for number in range(30):
        realm = ("acme", "master")[number % 2]
        found.append(admin_event(number, realm=realm) if number % 3 == 2 else user_event(number, realm=realm))
    return found


def test_a_kete_properties_configuration_delivers_every_event_with_key_and_properties(
    pulsar_broker, pulsar_topic, pt, tmp_path: Path
):
    sent = events()
    write_jsonl(tmp_path / "events.jsonl", sent)
    config = tmp_path / "kete.properties"
    config.write_text(
        f"kete.data-dir={tmp_path / 'data'}\n"
        "kete.sources.replay.kind=file\n"
        "kete.sources.replay.path=events.jsonl\n"
        "kete.routes.pulsar.destination.kind=pulsar\n"
        f"kete.routes.pulsar.destination.service-url={pulsar_broker.service_url}\n"
        f"kete.routes.pulsar.destination.topic={pulsar_topic}-${{realmLowerCase}}\n"
        "kete.routes.pulsar.destination.headers.X-Source=keycloak\n"
        "kete.routes.pulsar.destination.headers.eventtype=overridden\n"
        "kete.routes.pulsar.destination.pool.max-total=20\n"
    )
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "30 delivered, 0 failed" in result.stderr
    received = pt.read_topic(pulsar_broker.service_url, re.compile(f"{re.escape(pulsar_topic)}-.*"), count=30)
    by_id = {orjson.loads(message.payload)["id"]: message for message in received}
    assert set(by_id) == {event["id"] for event in sent}
    for event in sent:
        message = by_id[event["id"]]
        admin = "resourceType" in event
        assert message.topic == f"{pulsar_topic}-{event['realmName']}"
        assert message.key == ("USER_CREATE" if admin else "LOGIN")
        assert message.properties == {
            "X-Source": "keycloak",
            "eventkind": "ADMIN_EVENT" if admin else "EVENT",
            "eventtype": message.key,
            "contenttype": "application/json",
        }


def test_token_and_basic_authentication(pulsar_broker, pulsar_topic, pt, tmp_path: Path):
    write_jsonl(tmp_path / "events.jsonl", [user_event(n) for n in range(10)])
    for name, settings in (
        ("token", f'authentication-type = "token"\ntoken = "{pulsar_broker.token()}"'),
        ("basic", f'authentication-type = "basic"\nusername = "kete"\npassword = "{pulsar_broker.basic_password}"'),
    ):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "events.jsonl").write_bytes((tmp_path / "events.jsonl").read_bytes())
        config = pt.config_file(
            folder, f'service-url = "{pulsar_broker.service_url}"\ntopic = "{pulsar_topic}-{name}"\n{settings}\n'
        )
        result = run_kete("run", str(config), cwd=folder)
        assert result.returncode == 0, result.stderr
        assert "10 delivered, 0 failed" in result.stderr
        assert len(pt.read_topic(pulsar_broker.service_url, f"{pulsar_topic}-{name}", count=10)) == 10


def test_a_wrong_token_is_refused_at_start_and_nothing_is_dead_lettered(
    pulsar_broker, pulsar_topic, pt, spawn_kete, tmp_path: Path
):
    write_jsonl(tmp_path / "events.jsonl", [user_event(n) for n in range(5)])
    wrong = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJrZXRlIn0.bm90LXRoZS1zaWduYXR1cmU"
    config = pt.config_file(
        tmp_path,
        f"""
        service-url = "{pulsar_broker.service_url}"
        topic = "{pulsar_topic}"
        authentication-type = "token"
        token = "{wrong}"
        operation-timeout-seconds = 3
        """,
    )
    kete = spawn_kete(config)
    kete.wait_for_log(
        f"the destination is not available yet: Unavailable: cannot reach Pulsar at {pulsar_broker.service_url}: "
        "AuthenticationError"
    )
    assert kete.stop() == 1
    assert wrong not in kete.log
    assert "5 event(s) wait in the spool; they are delivered at the next start" in kete.log
    assert not (tmp_path / "data" / "dead-letters").exists()


class TokenServer:
    """An OAuth 2.0 token endpoint on 127.0.0.1 that gives client ``kete`` a token the broker accepts."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.requests: list[str] = []
        (self.port,) = free_ports(1)
        self.url = f"http://127.0.0.1:{self.port}/token"
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _answer(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.requests.append(f"{form.get('grant_type')} {request.headers.get('Authorization', '')}")
        return web.json_response({"access_token": self.token, "token_type": "Bearer", "expires_in": 300})

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/token", self._answer)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()

    def __enter__(self) -> TokenServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *_exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def test_oauth_client_credentials_token_is_presented_to_the_broker(pulsar_broker, pulsar_topic, pt, tmp_path: Path):
    write_jsonl(tmp_path / "events.jsonl", [user_event(n) for n in range(10)])
    with TokenServer(pulsar_broker.token()) as server:
        config = pt.config_file(
            tmp_path,
            f"""
            service-url = "{pulsar_broker.service_url}"
            topic = "{pulsar_topic}"
            authentication-type = "oauth"
            oauth.enabled = true
            oauth.token-url = "{server.url}"
            oauth.client-id = "kete"
            oauth.client-secret = "s3cret"
            """,
        )
        result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert server.requests and server.requests[0] == "client_credentials Basic a2V0ZTpzM2NyZXQ="
    received = pt.read_topic(pulsar_broker.service_url, pulsar_topic, count=10)
    assert Counter(orjson.loads(message.payload)["id"] for message in received) == Counter(f"e{n}" for n in range(10))
