"""The cross-check with the original's own libraries: the Jackson dataformats of its pom (jackson-bom
2.19.2) and Keycloak's event classes (26.7), fetched from Maven Central into ~/.cache/kete, read what kete
writes for the corpus, every field equal to the event's, and write the same bytes as kete for the same
event as a Keycloak bean (these formats' layout is
deterministic). The url-encoded form is decoded by ``java.net.URLDecoder``, which the original encodes with."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kete_serializers.csv_serializer import ADMIN_COLUMNS, NESTED, USER_COLUMNS
from kete_serializers.form_serializers import form_fields

from kete_core import EVENT, Event, parse_event
from kete_core.testing import sample_events
from kete_core.testing.contracts import load
from kete_core.testing.services import ServiceUnavailable, cache_dir, find_java, maven_artifacts, unavailable

pytestmark = pytest.mark.java
HERE = Path(__file__).resolve().parent / "java"
JACKSON_FORMATS = ("yaml", "xml", "toml", "properties", "csv")
SWEEP = [*range(0x300), 0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF, 0x1F600]
Runner = Callable[[str, str, list[str]], list[str]]


def sweep() -> list[Event]:
    """One event per character, in a value and in keys (the characters where escaping rules differ)."""
    events = []
    for code in SWEEP:
        char = chr(code)
        details = {"v": f"a{char}b", "w": char, f"a{char}b": "x", char: "y"}
        events.append(parse_event({"id": f"c{code}", "time": code, "type": "LOGIN", "details": details}))
    return events


@pytest.fixture(scope="module")
def jackson() -> Runner:
    """Runs ``JacksonFormats.java`` (Java's single-file source launcher, as tests/test_cases.py runs
    its harness) on lines of input."""
    try:
        java = find_java("the Jackson cross-check")
        libs = maven_artifacts(
            HERE / "pom.xml", cache_dir() / "jackson-2.19.2-keycloak-26.7.3", purpose="the Jackson dataformats"
        )
    except ServiceUnavailable as exc:
        unavailable(exc)

    def run(mode: str, kind: str, lines: list[str]) -> list[str]:
        command = [java, "-cp", f"{libs}/*", str(HERE / "JacksonFormats.java"), mode, kind]
        text = "".join(f"{line}\n" for line in lines)
        done = subprocess.run(command, input=text, capture_output=True, text=True, encoding="utf-8", check=True)
        answers = done.stdout.split("\n")[:-1]  # not splitlines(): U+2028 is no line end here
        assert len(answers) == len(lines), done.stderr
        return answers

    return run


def serializer(kind: str) -> Any:
    cls, _ = load("serializer", kind, path="test")
    return cls(cls.Config())


@pytest.mark.parametrize("kind", JACKSON_FORMATS)
def test_kete_writes_the_bytes_jackson_writes(jackson: Runner, events: list[Event], kind: str) -> None:
    events = events + sample_events() + sweep()
    written = jackson("write", kind, [json.dumps({"kind": e.kind, "event": e.data}) for e in events])
    ours = serializer(kind)
    compared = 0
    unknown: set[str] = set()
    for event, theirs in zip(events, written, strict=True):
        try:
            payload = ours.serialize(event)
        except ValueError as exc:
            # kete refuses what Jackson cannot write, and what it would write as broken XML or a complex YAML key
            documented = (kind, str(exc).rpartition(" ")[2]) in {("xml", "name"), ("yaml", "write")}
            assert theirs.startswith("!") or documented, f"{event!r}: {exc}"
            continue
        if "not one of the values accepted for Enum class" in theirs:
            unknown.add(event.event_type)  # a type of another Keycloak version: no bean to write it with
            continue
        assert not theirs.startswith("!"), f"Jackson cannot write {event!r} ({theirs}), but kete did: {payload!r}"
        assert payload == base64.b64decode(theirs), event
        compared += 1
    assert compared >= len(events) - 250 and len(unknown) <= 5, unknown


def jackson_input(kind: str, event: Event) -> dict[str, Any]:
    """What the Java side reads back from csv: the bean's columns, the nested ones empty."""
    tree = event.to_kete()
    columns = USER_COLUMNS if event.kind == EVENT else ADMIN_COLUMNS
    return {column: None if column in NESTED else tree.get(column) for column in columns}


def expected(kind: str, value: Any) -> Any:
    """What *kind*'s Jackson reader gives back for *value* of ``Event.to_kete()``: YAML keeps types;
    TOML writes null as ''; properties and XML hold only text (properties leave out an empty object)."""
    if isinstance(value, dict):
        items = {key: expected(kind, item) for key, item in value.items()}
        if kind == "properties":
            return {key: item for key, item in items.items() if item != {}}
        return items if items or kind != "xml" else ""
    if value is None:
        return None if kind == "yaml" else ""
    return value if kind in ("yaml", "toml") else str(value)


@pytest.mark.parametrize("kind", [*JACKSON_FORMATS, "url-encoded-form"])
def test_jackson_reads_back_every_field(jackson: Runner, events: list[Event], kind: str) -> None:
    ours = serializer(kind)
    if kind == "xml":  # leave out the events XML 1.0 cannot carry (a control character, a key that is no name)
        events = [event for event in events if event.id not in ("e2003", "e2006")]
    events = events + sample_events()
    trees = jackson("read", kind, [base64.b64encode(ours.serialize(event)).decode() for event in events])
    for event, tree in zip(events, trees, strict=True):
        assert not tree.startswith("!"), f"{kind} of {event!r}: {tree}"
        if kind == "csv":
            assert json.loads(tree) == expected(kind, jackson_input(kind, event)), event
        elif kind == "url-encoded-form":
            assert json.loads(tree) == dict(form_fields(event, "bracket")), event
        else:
            assert json.loads(tree) == expected(kind, event.to_kete()), event
