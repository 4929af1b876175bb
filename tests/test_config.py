from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kete_core.config import load_config
from kete_core.errors import ConfigErrors
from kete_core.testing import load_app

TOML = """
[kete]
log-level = "debug"

[sources.replay]
kind = "file"
path = "events.jsonl"
realm-names = { "0c2b" = "acme" }

[routes.logins]
realm-matchers.main = "list:master, acme"
event-matchers.login = "glob:LOGIN*"
event-matchers.no-errors = "glob:not:*_ERROR"
event-match-mode = "all"
destination.kind = "file"
destination.path = "out/${realmLowerCase}/logins.jsonl"
retry.max-attempts = 5
retry.wait-duration = "2s"

[routes.admin]
enabled = false
event-matchers.create = "regex:.*_CREATE"
serializer.kind = "json"
destination.kind = "stdout"
"""

PROPERTIES = r"""
# The same configuration, the way KETE users write it.
kete.log-level=debug
kete.sources.replay.kind=file
kete.sources.replay.path=events.jsonl
kete.sources.replay.realm-names.0c2b=acme
kete.routes.logins.realm-matchers.main=list:master, acme
kete.routes.logins.event-matchers.login=glob:LOGIN*
kete.routes.logins.event-matchers.no-errors : glob:not:*_ERROR
kete.routes.logins.event-match-mode=all
kete.routes.logins.destination.kind=file
kete.routes.logins.destination.path=out/${realmLowerCase}/\
    logins.jsonl
kete.routes.logins.retry.max-attempts=5
kete.routes.logins.retry.wait-duration=2s
! disabled route
kete.routes.admin.enabled=false
kete.routes.admin.event-matchers.create=regex:.*_CREATE
kete.routes.admin.serializer.kind=json
kete.routes.admin.destination.kind=stdout
"""

ENVIRONMENT = {
    "kete.log-level": "debug",
    "kete.sources.replay.kind": "file",
    "kete.sources.replay.path": "events.jsonl",
    "kete.sources.replay.realm-names.0c2b": "acme",
    "kete.routes.logins.realm-matchers.main": "list:master, acme",
    "KETE_ROUTES__LOGINS__EVENT_MATCHERS__LOGIN": "glob:LOGIN*",
    "kete.routes.logins.event-matchers.no-errors": "glob:not:*_ERROR",
    "KETE_ROUTES__LOGINS__EVENT_MATCH_MODE": "all",
    "KETE_ROUTES__LOGINS__DESTINATION__KIND": "file",
    "kete.routes.logins.destination.path": "out/${realmLowerCase}/logins.jsonl",
    "KETE_ROUTES__LOGINS__RETRY__MAX_ATTEMPTS": "5",
    "kete.routes.logins.retry.wait-duration": "2s",
    "KETE_ROUTES__ADMIN__ENABLED": "false",
    "kete.routes.admin.event-matchers.create": "regex:.*_CREATE",
    "kete.routes.admin.serializer.kind": "json",
    "kete.routes.admin.destination.kind": "stdout",
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def describe(app):
    """What a configuration means, independent of the form it was written in."""
    return {
        "settings": app.config.settings.model_dump(),
        "sources": {source.name: source.config.model_dump() for source in app.sources},
        "routes": {
            route.name: {
                "realms": [(m.pattern, neg) for m, neg in route.realms.matchers],
                "realm-mode": route.realms.require_all,
                "events": [(type(m).__name__, m.pattern, neg) for m, neg in route.events.matchers],
                "event-mode": route.events.require_all,
                "serializer": route.serializer_kind,
                "sink": (type(route.sink).__name__, route.sink.config.model_dump()),
                "retry": route.retry.model_dump(),
            }
            for route in app.routes
        },
    }


def test_toml_properties_and_environment_describe_the_same_routes(tmp_path):
    from_toml = describe(load_app(write(tmp_path, "kete.toml", TOML)))
    from_properties = describe(load_app(write(tmp_path, "kete.properties", PROPERTIES)))
    from_environment = describe(load_app(write(tmp_path, "empty.toml", ""), environ=ENVIRONMENT))
    assert from_toml == from_properties == from_environment
    assert list(from_toml["routes"]) == ["logins"]  # the disabled route is not built
    logins = from_toml["routes"]["logins"]
    assert logins["events"] == [("GlobMatcher", "LOGIN*", False), ("GlobMatcher", "*_ERROR", True)]
    assert logins["retry"]["max_attempts"] == 5 and logins["retry"]["wait_duration"] == 2.0
    assert from_toml["sources"]["replay"]["realm_names"] == {"0c2b": "acme"}


def test_environment_overrides_the_file_and_literal_names_win(tmp_path):
    path = write(tmp_path, "kete.toml", TOML)
    config = load_config(
        path,
        {
            "KETE_ROUTES__LOGINS__DESTINATION__PATH": "from-prefixed.jsonl",
            "kete.routes.logins.destination.path": "from-literal.jsonl",
            "KETE_ROUTES__LOGINS__RETRY__MAX_ATTEMPTS": "7",
            "KETE_LOG_LEVEL": "warning",
            "KETE_ROUTES__NEW_ROUTE__DESTINATION__KIND": "stdout",
        },
    )
    assert config.routes["logins"]["destination"]["path"] == "from-literal.jsonl"
    assert config.routes["logins"]["retry"]["max-attempts"] == "7"
    assert config.settings.log_level == "warning"
    assert config.routes["new-route"]["destination"]["kind"] == "stdout"


def test_prefixed_names_match_existing_keys_whatever_their_dashes(tmp_path):
    path = write(tmp_path, "kete.toml", '[routes.admin_events.destination]\nkind = "stdout"\n')
    config = load_config(path, {"KETE_ROUTES__ADMIN_EVENTS__EVENT_MATCHERS__USER_OPS": "glob:USER_*"})
    assert set(config.routes) == {"admin_events"}
    assert config.routes["admin_events"]["event-matchers"] == {"user-ops": "glob:USER_*"}


def test_quoted_dotted_toml_keys_mean_nested_tables(tmp_path):
    path = write(tmp_path, "kete.toml", '[routes.r.destination]\nkind = "stdout"\n"linger.ms" = 5\n')
    assert load_config(path, {}).routes["r"]["destination"] == {"kind": "stdout", "linger": {"ms": 5}}


def errors_of(tmp_path: Path, text: str, name: str = "kete.toml", environ=None) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        load_app(write(tmp_path, name, text), environ=environ or {})
    return [str(error) for error in caught.value.errors]


MINIMAL_ROUTE = '[routes.r]\ndestination.kind = "stdout"\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[routes.r\n", "kete.toml: not valid TOML"),
        ("[rotues.r]\nx = 1\n", "unknown key 'rotues'\n  hint: did you mean 'routes'?"),
        ("[routes.r]\nenabled = true\n", "routes.r.destination: 'destination' is required"),
        ("[routes.r.destination]\npath = 'x'\n", "routes.r.destination.kind: 'kind' is required"),
        (
            MINIMAL_ROUTE + "event-matcher.a = 'glob:X'\n",
            "routes.r: unknown key 'event-matcher'\n  hint: did you mean 'event-matchers'?",
        ),
        (MINIMAL_ROUTE + "event-match-mode = 'some'\n", "routes.r.event-match-mode: unknown match mode 'some'"),
        (MINIMAL_ROUTE + "realm-matchers.a = 'master'\n", "routes.r.realm-matchers.a: malformed matcher 'master'"),
        (MINIMAL_ROUTE + "enabled = 'maybe'\n", "routes.r.enabled"),
        (
            '[routes.r]\ndestination.kind = "kafak"\n',
            "routes.r.destination.kind: unknown destination kind 'kafak'\n  hint: did you mean 'kafka'?",
        ),
        (
            MINIMAL_ROUTE + "event-matchers.a = 'blob:X*'\n",
            "routes.r.event-matchers.a: unknown matcher kind 'blob'\n  hint: did you mean 'glob'?",
        ),
        (MINIMAL_ROUTE + "event-matchers.a = 'regex:(X'\n", "routes.r.event-matchers.a: invalid regex pattern '(X'"),
        ('[routes.r.destination]\nkind = "file"\npaht = "x"\n', "routes.r.destination.paht: unknown setting 'paht'"),
        ('[routes.r.destination]\nkind = "file"\npath = "x"\nmax-bytes = "lots"\n', "routes.r.destination.max-bytes"),
        (
            '[routes.r.destination]\nkind = "file"\npath = "${realmLowercase}.jsonl"\n',
            "routes.r.destination.path: unknown template variable '${realmLowercase}'; did you mean 'realmLowerCase'?",
        ),
        (MINIMAL_ROUTE + "retry.max-attempts = 0\n", "routes.r.retry.max-attempts: Input should be greater than 0"),
        (MINIMAL_ROUTE + "retry.wait-duration = 'soon'\n", "routes.r.retry.wait-duration"),
        (MINIMAL_ROUTE + "retry.backof = 2\n", "routes.r.retry.backof: unknown setting 'backof'"),
        (
            MINIMAL_ROUTE + "serializer.kind = 'jsno'\n",
            "routes.r.serializer.kind: unknown serializer kind 'jsno'\n  hint: did you mean 'json'?",
        ),
        ("[sources.s]\npath = 'x'\n", "sources.s.kind: 'kind' is required"),
        ("[sources.s]\nkind = 'fiel'\n", "sources.s.kind: unknown source kind 'fiel'\n  hint: did you mean 'file'?"),
        ("[sources.s]\nkind = 'file'\n", "sources.s.path: Field required"),
        (
            "[sources.s]\nkind = 'file'\npath = 'x'\nfolow = true\n",
            "sources.s.folow: unknown setting 'folow'\n  hint: did you mean 'follow'?",
        ),
        ("[kete]\nlog-level = 'loud'\n", "kete.log-level"),
        (
            "[kete]\nqueue-sise = 3\n",
            "kete.queue-sise: unknown setting 'queue-sise'\n  hint: did you mean 'queue-size'?",
        ),
        ("[kete]\nrenderer = 'jinja'\n", "kete.renderer: unknown renderer kind 'jinja'"),
        ("[routes.'bad name']\ndestination.kind = 'stdout'\n", "routes: invalid name 'bad name'"),
    ],
)
def test_every_config_error_names_its_path(tmp_path, text, expected):
    errors = errors_of(tmp_path, text)
    assert any(all(part.strip() in error for part in expected.split("\n")) for error in errors), errors


def test_plugin_errors_name_the_plugin(tmp_path):
    [error] = errors_of(tmp_path, '[routes.r.destination]\nkind = "file"\npaht = "x"\npath = "y"\n')
    assert "plugin: kete-file 0.1.0 (entry point kete.sinks:file = kete_file.sink:FileSink)" in error


def test_all_errors_are_reported_at_once(tmp_path):
    text = (
        '[routes.a]\ndestination.kind = "kafak"\nevent-matchers.x = "regex:("\n'
        '[routes.b]\ndestination.kind = "stdout"\nretry.max-attempts = -1\n'
        '[sources.s]\nkind = "file"\n'
    )
    errors = errors_of(tmp_path, text)
    assert len(errors) == 4, errors


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("kete.properties", "enable=false\n", "kete.properties:1: unknown property 'enable'"),
        (
            "kete.properties",
            "kete.routes.r.destination=x\nkete.routes.r.destination.kind=y\n",
            "is set to a value and also used as a table",
        ),
        ("kete.properties", "kete.routes..x=1\n", "malformed key"),
        ("kete.yaml", "routes: {}\n", "unknown configuration format '.yaml'"),
    ],
)
def test_file_format_errors(tmp_path, name, text, expected):
    assert any(expected in error for error in errors_of(tmp_path, text, name)), expected


def test_missing_file(tmp_path):
    with pytest.raises(ConfigErrors, match="cannot read the configuration file"):
        load_config(tmp_path / "absent.toml", {})


def test_properties_escapes_and_continuations(tmp_path):
    text = "kete.routes.r.destination.kind = std\\\n   out\nkete.routes.r.destination.x\\:y=\\u0041\\tB\n"
    path = write(tmp_path, "kete.properties", text)
    destination = load_config(path, {}).routes["r"]["destination"]
    assert destination == {"kind": "stdout", "x:y": "A\tB"}


def test_a_known_but_missing_plugin_says_what_to_install(tmp_path, monkeypatch):
    from kete_core import discovery

    # A kind kete knows a provider for, whose distribution is not installed here.
    monkeypatch.setitem(discovery.KNOWN_PROVIDERS, ("sink", "carrier-pigeon"), "kete-pigeon")
    [error] = errors_of(tmp_path, '[routes.r]\ndestination.kind = "carrier-pigeon"\n')
    assert "routes.r.destination.kind: unknown destination kind 'carrier-pigeon'" in error
    assert "hint: 'carrier-pigeon' is provided by kete-pigeon: pip install kete-pigeon" in error


def test_dead_letter_routes_may_not_form_a_cycle(tmp_path):
    stdout = 'destination.kind = "stdout"\n'
    text = (
        f'[routes.a]\n{stdout}dead-letter.route = "b"\n'
        f'[routes.b]\n{stdout}dead-letter.route = "c"\n'
        f'[routes.c]\n{stdout}dead-letter.route = "a"\n'
        f'[routes.d]\n{stdout}dead-letter.route = "a"\n'
    )
    errors = errors_of(tmp_path, text)
    assert errors == [
        f"routes.{name}.dead-letter.route: dead-letter routes form a cycle: {cycle}\n"
        "  hint: end the chain at a route without dead-letter.route (its dead letters go to files)"
        for name, cycle in [("a", "a -> b -> c -> a"), ("b", "b -> c -> a -> b"), ("c", "c -> a -> b -> c")]
    ]


def test_a_chain_of_dead_letter_routes_is_fine(tmp_path):
    stdout = 'destination.kind = "stdout"\n'
    text = f'[routes.a]\n{stdout}dead-letter.route = "b"\n[routes.b]\n{stdout}dead-letter.route = "c"\n[routes.c]\n{stdout}'
    app = load_app(write(tmp_path, "kete.toml", text), environ={})
    assert [route.dead_letter.route for route in app.routes] == ["b", "c", None]
