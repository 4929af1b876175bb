"""Environment variables and secrets: what kete reads from the environment, what it leaves alone,
and ``${env:NAME}`` / ``${file:/path}`` references for secret settings."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp import web

from kete_core.config import load_config
from kete_core.errors import ConfigErrors
from kete_core.testing import load_app, run_app, run_kete, write_jsonl

# What Kubernetes puts into every pod of a namespace that has a Service named "kete".
KUBERNETES = {
    "KETE_SERVICE_HOST": "10.96.0.17",
    "KETE_SERVICE_PORT": "8080",
    "KETE_SERVICE_PORT_HTTP": "8080",
    "KETE_PORT": "tcp://10.96.0.17:8080",
    "KETE_PORT_8080_TCP": "tcp://10.96.0.17:8080",
    "KETE_PORT_8080_TCP_PROTO": "tcp",
    "KETE_PORT_8080_TCP_PORT": "8080",
    "KETE_PORT_8080_TCP_ADDR": "10.96.0.17",
}
# What `kete keycloak enable-events` documents, exported in the same shell.
ENABLE_EVENTS = {"KETE_KEYCLOAK_PASSWORD": "admin-pass", "KETE_KEYCLOAK_CLIENT_SECRET": "client-pass"}


def config_file(tmp_path: Path, text: str, name: str = "kete.toml") -> Path:
    write_jsonl(tmp_path / "events.jsonl", [{"type": "LOGIN", "realmId": "acme", "id": "1"}])
    path = tmp_path / name
    path.write_text(f'[sources.s]\nkind = "file"\npath = "{tmp_path / "events.jsonl"}"\n{text}', encoding="utf-8")
    return path


ROUTE = '[routes.r]\ndestination.kind = "file"\ndestination.path = "out.jsonl"\n'


def test_kubernetes_service_variables_are_ignored_with_one_warning(tmp_path):
    path = config_file(tmp_path, ROUTE)
    config = load_config(path, {**KUBERNETES, **ENABLE_EVENTS, "KETE_LOG_LEVEL": "debug"})
    assert config.settings.log_level == "debug"
    [warning] = config.warnings
    assert warning.message == "environment variables ignored: " + ", ".join(sorted({**KUBERNETES, **ENABLE_EVENTS}))
    for value in ["10.96.0.17", "tcp://", *ENABLE_EVENTS.values()]:
        assert value not in str(warning)


def test_kete_check_and_run_start_in_a_kubernetes_pod(tmp_path):
    path = config_file(tmp_path, ROUTE)
    env = {**KUBERNETES, **ENABLE_EVENTS}
    check = run_kete("check", str(path), env=env)
    assert check.returncode == 0, check.stderr
    assert check.stderr.count("environment variables ignored: KETE_KEYCLOAK_CLIENT_SECRET") == 1
    run = run_kete("run", str(path), env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stderr.count("environment variables ignored:") == 1
    assert (tmp_path / "out.jsonl").read_text().count("\n") == 1


def test_variables_that_reach_the_tree_are_still_read(tmp_path):
    path = config_file(tmp_path, ROUTE)
    config = load_config(
        path,
        {
            "KETE_ROUTES__R__DESTINATION__PATH": "prefixed.jsonl",
            "KETE_METRICS__ENABLED": "true",
            "kete.routes.r.retry.max-attempts": "5",
            "kete.sources.s.follow": "true",
        },
    )
    assert config.routes["r"]["destination"]["path"] == "prefixed.jsonl"
    assert config.routes["r"]["retry"]["max-attempts"] == "5"
    assert config.sources["s"]["follow"] == "true"
    assert config.settings.metrics.enabled
    assert config.warnings == ()


def test_a_misspelt_setting_is_named_with_the_right_spelling(tmp_path):
    config = load_config(config_file(tmp_path, ROUTE), {"KETE_LOG_LEVLE": "debug", "kete.queue-sise": "3"})
    [warning] = config.warnings
    assert "KETE_LOG_LEVLE, kete.queue-sise" in warning.message
    assert "KETE_LOG_LEVLE: did you mean 'KETE_LOG_LEVEL'?" in str(warning.hint)


def test_secrets_come_from_the_environment_or_a_file(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-a-file\n")
    path = config_file(
        tmp_path,
        f"""
[sources.kc]
kind = "keycloak-admin-api"
server = "http://127.0.0.1:1"
realms = "acme"
client-id = "kete"
client-secret = "${{env:KETE_KEYCLOAK_SECRET}}"
[routes.hook.destination]
kind = "http"
url = "http://127.0.0.1:1/hook"
headers.x-token = "${{file:{secret_file}}}"
headers.x-both = "a ${{env:KETE_KEYCLOAK_SECRET}} b ${{file:{secret_file}}}"
""",
    )
    app = load_app(path, environ={"KETE_KEYCLOAK_SECRET": "from-the-environment", **KUBERNETES})
    poller = next(source for source in app.sources if source.name == "kc")
    assert poller.config.client_secret.get_secret_value() == "from-the-environment"
    [hook] = app.routes
    headers = hook.sink.config.headers
    assert headers == {"x-token": "from-a-file", "x-both": "a from-the-environment b from-a-file"}
    # A variable a value refers to is not reported as ignored.
    assert "KETE_KEYCLOAK_SECRET" not in str(app.config.warnings[0])


async def test_a_secret_from_the_environment_reaches_the_destination(tmp_path, unused_tcp_port):
    received: list[str | None] = []

    async def receive(request: web.Request) -> web.Response:
        received.append(request.headers.get("Authorization"))
        return web.Response(status=204)

    server = web.Application()
    server.router.add_post("/hook", receive)
    runner = web.AppRunner(server)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    try:
        path = config_file(
            tmp_path,
            f"""
[routes.hook.destination]
kind = "http"
url = "http://127.0.0.1:{unused_tcp_port}/hook"
authentication-type = "bearer"
bearer-token = "${{env:HOOK_TOKEN}}"
""",
        )
        app = load_app(path, environ={"HOOK_TOKEN": "t0ken"})
        stats = await asyncio.to_thread(run_app, app)
    finally:
        await runner.cleanup()
    assert stats.routes["hook"].delivered == 1
    assert received == ["Bearer t0ken"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("${KETE_KEYCLOAK_SECRET}", "'${KETE_KEYCLOAK_SECRET}' is not read from the environment"),
        ("${env:NOT_SET_ANYWHERE}", "the environment variable 'NOT_SET_ANYWHERE' it refers to is not set"),
        ("${file:/nonexistent/secret}", "cannot read the file '/nonexistent/secret' it refers to"),
        ("${env:}", "'${env:}' names no variable"),
    ],
)
def test_a_reference_that_cannot_be_resolved_names_the_setting(tmp_path, value, expected):
    path = config_file(
        tmp_path,
        f'[sources.kc]\nkind = "keycloak-admin-api"\nserver = "http://127.0.0.1:1"\nrealms = "acme"\n'
        f'client-id = "kete"\nclient-secret = "{value}"\n{ROUTE}',
    )
    with pytest.raises(ConfigErrors) as caught:
        load_app(path, environ={"KETE_KEYCLOAK_SECRET": "never-shown"})
    [error] = caught.value.errors
    assert error.path == "sources.kc.client-secret"
    assert expected in error.message
    assert "never-shown" not in str(caught.value)
    if value == "${KETE_KEYCLOAK_SECRET}":
        assert error.hint is not None and '"${env:KETE_KEYCLOAK_SECRET}"' in error.hint


def test_a_resolved_secret_is_never_echoed_in_an_error(tmp_path):
    path = config_file(
        tmp_path,
        ROUTE
        + 'retry.max-attempts = "${env:ATTEMPTS}"\nretry.wait-duration = "${env:WAIT}"\n'
        + 'destination.max-bytes = "${file:'
        + str(tmp_path / "size")
        + '}"\n',
    )
    (tmp_path / "size").write_text("hunter2-in-a-file\n")
    with pytest.raises(ConfigErrors) as caught:
        load_app(path, environ={"ATTEMPTS": "hunter2", "WAIT": "hunter2-too"})
    assert {error.path for error in caught.value.errors} == {
        "routes.r.retry.max-attempts",
        "routes.r.retry.wait-duration",
        "routes.r.destination.max-bytes",
    }
    assert "hunter2" not in str(caught.value)
