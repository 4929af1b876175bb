"""An address (path, URL, topic, key) using a variable some events have no value for: such an event
fails on that route with the reason and is dead-lettered, never delivered to a literal ``${...}``
address; ``kete check`` warns about it before the first event."""

from __future__ import annotations

from pathlib import Path

from kete_core.addresses import USER_EVENT_TYPES
from kete_core.testing import read_jsonl, run_kete, write_jsonl
from tests.seeds import seed_user_event_types

LOGIN = {"id": "u1", "type": "LOGIN", "realmName": "acme", "time": 1}
CREATED = {"id": "a1", "resourceType": "USER", "operationType": "CREATE", "realmName": "acme", "time": 2}


def _config(tmp_path: Path) -> Path:
    write_jsonl(tmp_path / "events.jsonl", [LOGIN, CREATED])
    config = tmp_path / "kete.toml"
    config.write_text(
        f"""
[kete]
data-dir = "{tmp_path / "data"}"

[sources.replay]
kind = "file"
path = "{tmp_path / "events.jsonl"}"

[routes.everything]
destination.kind = "file"
destination.path = "{tmp_path / "out"}/${{resourceTypeLowerCase}}-${{operationTypeLowerCase}}.jsonl"

[routes.creations]
event-matchers.created = "glob:*_CREATE"
destination.kind = "file"
destination.path = "{tmp_path / "created"}/${{resourceTypeLowerCase}}.jsonl"

[routes.hook]
event-matchers.logins = "list:LOGIN"
destination.kind = "discard"
destination.key = "https://u:secret@siem/${{resourceTypeKebabCase}}"
"""
    )
    return config


def test_the_user_event_types_are_keycloaks():
    assert seed_user_event_types() == USER_EVENT_TYPES


def test_kete_check_warns_about_admin_only_variables_where_user_events_can_go(tmp_path):
    result = run_kete("check", str(_config(tmp_path)))
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("kete: warning: ")]
    assert len(warnings) == 2  # not for route creations: only admin events end in _CREATE
    assert warnings[0].startswith(
        "kete: warning: routes.everything.destination.path: ${operationTypeLowerCase}, ${resourceTypeLowerCase} in "
    )
    assert "has no value for user events, which this route can take (AUTHREQID_TO_TOKEN," in warnings[0]
    assert warnings[1].startswith("kete: warning: routes.hook.destination.key: ${resourceTypeKebabCase} in ")
    assert "'https://***@siem/${resourceTypeKebabCase}'" in warnings[1] and "(LOGIN)" in warnings[1]
    assert "secret" not in result.stderr
    assert "OK: 3 route(s)" in result.stdout


def test_an_event_without_a_value_for_its_address_fails_on_that_route_only(tmp_path):
    config = _config(tmp_path)
    result = run_kete("run", str(config))
    assert result.returncode == 1, result.stderr
    assert [path.name for path in (tmp_path / "out").iterdir()] == ["user-create.jsonl"]
    assert [path.name for path in (tmp_path / "created").iterdir()] == ["user.jsonl"]
    assert not [path for path in tmp_path.rglob("*") if "${" in str(path)]
    assert "route everything: 2 matched, 1 delivered, 1 failed" in result.stderr
    assert "route hook: 1 matched, 0 delivered, 1 failed" in result.stderr
    (letter,) = read_jsonl(tmp_path / "data" / "dead-letters" / "everything.jsonl")
    assert letter["event"] == LOGIN and letter["attempts"] == 1
    assert letter["error"].startswith("RenderError: '")
    assert letter["error"].endswith(
        "-${operationTypeLowerCase}.jsonl': ${resourceTypeLowerCase}, ${operationTypeLowerCase} has no value for "
        "this event (only admin events have a resource and an operation type)"
    )
    listed = run_kete("dlq", "list", str(config), "--route", "hook")
    assert "https://***@siem/${resourceTypeKebabCase}" in listed.stdout and "secret" not in listed.stdout
