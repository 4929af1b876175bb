"""``kete check``: every error of a file in one pass, hints that help, no echoed values, and
warnings for configurations that are valid but will not do what was meant."""

from __future__ import annotations

from pathlib import Path

import pytest

from kete_core.errors import ConfigErrors
from kete_core.testing import load_app, run_kete

# One file with a mistake in every part of two routes and a source: a user fixing them one `kete
# check` at a time needed four rounds.
EVERY_MISTAKE = """
[sources.s]
kind = "file"
path = "events.jsonl"
folow = true

[routes.a]
event-matcher.x = "glob:LOGIN"
realm-matchers.main = "master"
event-match-mode = "some"
destination.kind = "kafak"

[routes.b]
retry.max-attempts = 0
serializer.kind = "jsno"
destination.kind = "file"
destination.paht = "out.jsonl"
dead-letter.route = "nowhere"

[routes.c]
enabled = "maybe"
retry = "often"
destination.kind = "stdout"
destination.colour = "red"
"""

EXPECTED = {
    ("sources.s.folow", "unknown setting 'folow'"),
    ("routes.a", "unknown key 'event-matcher'"),
    ("routes.a.realm-matchers.main", "malformed matcher 'master'"),
    ("routes.a.event-match-mode", "unknown match mode 'some'"),
    ("routes.a.destination.kind", "unknown destination kind 'kafak'"),
    ("routes.b.retry.max-attempts", "Input should be greater than 0"),
    ("routes.b.serializer.kind", "unknown serializer kind 'jsno'"),
    ("routes.b.destination.paht", "unknown setting 'paht'"),
    ("routes.b.destination.path", "Field required"),
    ("routes.b.dead-letter.route", "dead-letter route 'nowhere' is not an enabled route"),
    ("routes.c.enabled", "expected true or false"),
    ("routes.c.retry", "expected a table, not a string"),
    ("routes.c.destination.colour", "unknown setting 'colour'"),
}


def write(tmp_path: Path, text: str, name: str = "kete.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_one_pass_reports_every_error_of_every_part(tmp_path):
    with pytest.raises(ConfigErrors) as caught:
        load_app(write(tmp_path, EVERY_MISTAKE))
    found = [(error.path, error.message) for error in caught.value.errors]
    for path, message in EXPECTED:
        assert any(where == path and message in text for where, text in found), (path, message, found)
    assert len(found) == len(EXPECTED), found  # and each once


def test_errors_of_a_broken_renderer_do_not_hide_the_routes(tmp_path):
    text = '[kete]\nrenderer = "jinja"\n[routes.r.destination]\nkind = "file"\npath = "${realmLowercase}.jsonl"\n'
    with pytest.raises(ConfigErrors) as caught:
        load_app(write(tmp_path, text))
    assert [error.path for error in caught.value.errors] == ["kete.renderer", "routes.r.destination.path"]


@pytest.mark.parametrize("setting", ['destination.colour = "red"', "serializer.pretty = true"])
def test_a_component_without_settings_says_so(tmp_path, setting):
    with pytest.raises(ConfigErrors) as caught:
        load_app(write(tmp_path, f'[routes.r]\ndestination.kind = "stdout"\n{setting}\n'))
    [error] = caught.value.errors
    assert error.hint == "it takes no settings"
    assert "known settings: \n" not in str(caught.value) and not str(caught.value).endswith("known settings: ")


@pytest.mark.parametrize(
    "setting",
    [
        'retry.wait-duration = "hunter2"',
        'retry.max-elapsed-duration = "hunter2"',
        'destination.kind = "file"\ndestination.path = "x"\ndestination.max-bytes = "hunter2"',
        'retry.multiplier = "hunter2"',
        'retry.max-attempts = "hunter2"',
    ],
)
def test_a_wrong_value_is_never_echoed(tmp_path, setting):
    text = f"[routes.r]\n{setting}\n" + ('destination.kind = "stdout"\n' if "destination" not in setting else "")
    result = run_kete("check", str(write(tmp_path, text)))
    assert result.returncode == 2
    assert "routes.r." in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("text", "warning"),
    [
        ('[routes.r]\ndestination.kind = "stdout"\n', "no source: `kete run` has nothing to read and ends at once"),
        ('[sources.s]\nkind = "file"\npath = "-"\n', "no route: events are read and delivered nowhere"),
        (
            '[sources.s]\nkind = "file"\npath = "-"\n[routes.r]\nenabled = false\ndestination.kind = "stdout"\n',
            "every route is disabled: events are read and delivered nowhere",
        ),
        (
            '[sources.s]\nkind = "file"\npath = "missing.jsonl"\n[routes.r]\ndestination.kind = "stdout"\n',
            "sources.s.path: the input 'missing.jsonl' does not exist",
        ),
    ],
)
def test_check_warns_about_configurations_that_do_nothing(tmp_path, text, warning):
    result = run_kete("check", str(write(tmp_path, text)), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"kete: warning: {warning}" in result.stderr or f"kete.toml: {warning}" in result.stderr
    assert "OK" in result.stdout


def test_a_complete_configuration_has_no_warning(tmp_path):
    (tmp_path / "events.jsonl").write_text("")
    text = '[sources.s]\nkind = "file"\npath = "events.jsonl"\n[routes.r]\ndestination.kind = "stdout"\n'
    result = run_kete("check", str(write(tmp_path, text)), cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_a_plugin_validator_quoting_the_value_is_not_echoed_either(tmp_path):
    text = (
        '[sources.kc]\nkind = "keycloak-log"\npath = "k.log"\ntimezone = "hunter2/zone"\n'
        '[routes.r]\ndestination.kind = "stdout"\n'
    )
    result = run_kete("check", str(write(tmp_path, text)))
    assert result.returncode == 2
    assert "sources.kc.timezone: Value error, unknown time zone '…'" in result.stderr
    assert "hunter2" not in result.stderr
