from __future__ import annotations

import json

import jsonschema

from kete_core.testing import run_kete


def test_match_prints_each_value_and_exits_like_grep():
    result = run_kete("match", "glob:LOGIN*", "LOGIN", "LOGOUT", "LOGIN_ERROR")
    assert result.returncode == 0
    assert result.stdout.splitlines() == ["LOGIN        match", "LOGOUT       no match", "LOGIN_ERROR  match"]
    assert run_kete("match", "list:not:LOGIN", "LOGIN").returncode == 1
    assert run_kete("match", "sql:USER\\_%", "USER_CREATE").stdout.split() == ["USER_CREATE", "match"]


def test_match_reports_bad_matchers():
    result = run_kete("match", "regx:LOGIN", "LOGIN")
    assert result.returncode == 2
    assert "unknown matcher kind 'regx'" in result.stderr and "did you mean 'regex'?" in result.stderr


def test_schema_covers_installed_components_and_validates_configs(tmp_path):
    result = run_kete("schema")
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    route = schema["properties"]["routes"]["additionalProperties"]
    assert {"file", "stdout"} <= set(route["properties"]["destination"]["properties"]["kind"]["enum"])
    validator = jsonschema.Draft202012Validator(schema)
    good = {"routes": {"r": {"destination": {"kind": "file", "path": "x.jsonl", "max-bytes": 10}}}}
    assert not list(validator.iter_errors(good))
    typo = {"routes": {"r": {"destination": {"kind": "file", "paht": "x.jsonl"}}}}
    assert list(validator.iter_errors(typo))
    assert "sources" in schema["properties"] and "retry" in route["properties"]


def test_check_accepts_a_good_config_and_counts_routes(tmp_path):
    config = tmp_path / "kete.toml"
    config.write_text(
        '[routes.a]\ndestination.kind = "stdout"\n[routes.b]\nenabled = false\ndestination.kind = "stdout"\n'
    )
    result = run_kete("check", str(config))
    assert result.returncode == 0
    assert result.stdout.strip() == f"{config}: OK: 1 route(s) (1 disabled), 0 source(s)"


def test_check_exits_2_with_every_error(tmp_path):
    config = tmp_path / "kete.toml"
    config.write_text(
        '[routes.a]\ndestination.kind = "kafak"\n[routes.b]\nevent-matchers.x = "bad"\ndestination.kind = "stdout"\n'
    )
    result = run_kete("check", str(config))
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("kete: error:")]
    assert errors == [
        "kete: error: routes.a.destination.kind: unknown destination kind 'kafak'",
        "kete: error: routes.b.event-matchers.x: malformed matcher 'bad'",
    ]


def test_run_from_stdin_to_stdout():
    config_text = '[sources.in]\nkind = "file"\npath = "-"\n[routes.all]\ndestination.kind = "stdout"\n'
    events = '{"type":"LOGIN","id":"a"}\nnot json\n{"resourceType":"USER","operationType":"DELETE","id":"b"}\n'
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as handle:
        handle.write(config_text)
    result = run_kete("run", handle.name, stdin=events)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == ["a", "b"]
    assert "<stdin>:2: rejected: not JSON" in result.stderr


def test_run_exits_1_when_a_route_cannot_deliver(tmp_path):
    (tmp_path / "blocked").write_text("a file, not a directory")
    events = tmp_path / "events.jsonl"
    events.write_text('{"type":"LOGIN"}\n')
    config = tmp_path / "kete.toml"
    config.write_text(
        f'[sources.s]\nkind = "file"\npath = "{events}"\n'
        f'[routes.broken]\nretry.wait-duration = "1ms"\ndestination.kind = "file"\ndestination.path = "{tmp_path}/blocked/x.jsonl"\n'
        f'[routes.fine]\ndestination.kind = "file"\ndestination.path = "{tmp_path}/fine.jsonl"\n'
    )
    result = run_kete("run", str(config))
    assert result.returncode == 1
    assert "route 'broken': gave up on 1 event(s) after 3 attempt(s): FileExistsError" in result.stderr
    assert (tmp_path / "fine.jsonl").read_text().count("\n") == 1


def test_missing_input_file_is_a_source_error(tmp_path):
    config = tmp_path / "kete.toml"
    config.write_text(
        f'[sources.s]\nkind = "file"\npath = "{tmp_path}/absent.jsonl"\n[routes.r]\ndestination.kind = "stdout"\n'
    )
    result = run_kete("run", str(config))
    assert result.returncode == 1
    assert f"source 's': {tmp_path}/absent.jsonl: cannot open input: No such file or directory" in result.stderr


def test_disabled_kete_does_nothing(tmp_path):
    config = tmp_path / "kete.properties"
    config.write_text("kete.enabled=false\nkete.routes.r.destination.kind=stdout\n")
    result = run_kete("run", str(config))
    assert result.returncode == 0 and result.stdout == ""
    assert "kete is disabled" in result.stderr
