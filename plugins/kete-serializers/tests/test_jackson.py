"""The cross-check with the original's own libraries, in one JVM run: the Jackson dataformats of its pom
(jackson-bom 2.19.2), its Apache Avro (1.12.0) and protobuf-java (4.33.2), and Keycloak's event classes
(26.7), fetched from Maven Central into ~/.cache/kete. They read what kete writes for the corpus, every
field equal to the event's, and write the same bytes as kete for the same event as a Keycloak bean where
the layout is deterministic (the Jackson formats always; Avro and protobuf where the details map has at
most one entry, since the original wrote it in Java ``HashMap`` order). The url-encoded form is decoded
by ``java.net.URLDecoder``, which the original encodes with, and the multipart form by Jakarta Mail's
MIME parser (angus-mail 2.0.3)."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from kete_serializers.csv_serializer import ADMIN_COLUMNS, NESTED, USER_COLUMNS
from kete_serializers.form_serializers import form_fields
from kete_serializers.records import original_record

from kete_core import EVENT, Event, parse_event
from kete_core.testing import admin_event, sample_events, user_event
from kete_core.testing.contracts import load
from kete_core.testing.services import ServiceUnavailable, cache_dir, find_java, maven_artifacts, unavailable

pytestmark = pytest.mark.java
HERE = Path(__file__).resolve().parent / "java"
LIBRARIES = "kete-formats-jackson-2.19.2-avro-1.12.0-protobuf-4.33.2-angus-mail-2.0.3-keycloak-26.7.3"
JACKSON_FORMATS = ("yaml", "xml", "toml", "properties", "csv", "cbor", "smile")
RECORD_FORMATS = ("avro", "protobuf")
READ_KINDS = (*JACKSON_FORMATS, *RECORD_FORMATS, "url-encoded-form", "multipart-form")
SWEEP = [*range(0x300), 0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF, 0x1F600]
Answers = dict[tuple[str, str], list[str]]


def sweep() -> list[Event]:
    """One event per character, in a value and in keys (the characters where escaping rules differ)."""
    events = []
    for code in SWEEP:
        char = chr(code)
        details = {"v": f"a{char}b", "w": char, f"a{char}b": "x", char: "y"}
        events.append(parse_event({"id": f"c{code}", "time": code, "type": "LOGIN", "details": details}))
    return events


def edges() -> list[Event]:
    """Where the binary formats switch forms: string and key lengths around each limit (ASCII and not),
    chunked long strings (a surrogate pair at the chunk border), keys seen twice, integers of each width."""
    events = []
    for number, length in enumerate((31, 32, 33, 64, 65, 2001, 2666, 2667, 3996, 3997, 9000)):
        for text in ("x" * length, "é" * (length // 2), "x" * (length - 1) + "😀"):
            events.append(parse_event(admin_event(3000 + number, representation=text)))
    keys = {"x" * n: str(n) for n in (55, 56, 57, 63, 64, 65, 70)} | {"é" * n: str(n) for n in (27, 28, 29, 32, 33)}
    keys["a" + "é" * 28] = "57 bytes"
    events.append(parse_event(user_event(3100, details=keys)))
    events.append(parse_event(user_event(3101, details={"id": "1", "type": "2", "details": "3", "time": "4"})))
    many = {f"key{n}": "v" for n in range(80)} | {"id": "again", "key70": "again"}
    events.append(parse_event(user_event(3102, details=many)))
    for number, time in enumerate(
        (0, 15, 16, 23, 24, 63, 64, 255, 256, 8191, 8192, 65535, 65536, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**40)
    ):
        events.append(parse_event({"id": f"t{number}", "time": time, "type": "LOGIN"}))
    events.append(parse_event({"id": "t-neg", "time": -17, "type": "LOGIN"}))
    return events


def serializer(kind: str) -> Any:
    cls, _ = load("serializer", kind, path="test")
    return cls(cls.Config())


def read_kind(kind: str, event: Event) -> str:
    """Avro and protobuf payloads carry no type: the harness is told which record to read."""
    return f"{kind}-admin" if kind in RECORD_FORMATS and event.kind != EVENT else kind


def readable(kind: str, events: list[Event]) -> list[Event]:
    """The corpus kete writes in *kind* (xml leaves out what XML 1.0 cannot carry)."""
    if kind == "xml":
        return [event for event in events if event.id not in ("e2003", "e2006")]
    return events


@pytest.fixture(scope="module")
def written_events(events: list[Event]) -> list[Event]:
    return events + sample_events() + sweep() + edges()


@pytest.fixture(scope="module")
def original(events: list[Event], written_events: list[Event]) -> Answers:
    """Every question for the Java side, asked in one run of ``KeteFormats.java`` (Java's single-file
    source launcher, as tests/test_cases.py runs its harness): answers by (mode, kind)."""
    try:
        java = find_java("the cross-check with the original's libraries")
        libs = maven_artifacts(HERE / "pom.xml", cache_dir() / LIBRARIES, purpose="the original's serializer libraries")
    except ServiceUnavailable as exc:
        unavailable(exc)
    questions: list[tuple[str, str, str]] = []
    for kind in (*JACKSON_FORMATS, *RECORD_FORMATS):
        questions += [("write", kind, json.dumps({"kind": e.kind, "event": e.data})) for e in written_events]
    for kind in READ_KINDS:
        ours = serializer(kind)
        for event in readable(kind, events + sample_events() + edges()):
            payload = base64.b64encode(ours.serialize(event)).decode()
            questions.append(("read", read_kind(kind, event), payload))
    schemas = files("kete_serializers").joinpath("schemas")
    command = [java, "-cp", f"{libs}/*", str(HERE / "KeteFormats.java"), str(schemas)]
    text = "".join(f"{mode} {kind} {line}\n" for mode, kind, line in questions)
    done = subprocess.run(command, input=text, capture_output=True, text=True, encoding="utf-8", check=True)
    lines = done.stdout.split("\n")[:-1]  # not splitlines(): U+2028 is no line end here
    assert len(lines) == len(questions), done.stderr
    answers: Answers = {}
    for (mode, kind, _), line in zip(questions, lines, strict=True):
        answers.setdefault((mode, kind.removesuffix("-admin")), []).append(line)
    return answers


def _deterministic(kind: str, event: Event) -> bool:
    """Whether the original's bytes for *event* have one layout: its Avro and protobuf details came from
    a ``HashMap``, and its beans write ``time`` 0 where kete writes it absent; Jackson's Smile marks long
    ASCII text (beyond 2000 characters) as ASCII or as Unicode by the size of the buffers it recycled
    from earlier events (kete writes what a fresh writer does)."""
    if kind == "smile":
        return all(len(value) <= 2000 for value in _strings(event.to_kete()))
    if kind not in RECORD_FORMATS:
        return True
    details = event.data.get("details")
    return event.data.get("time") is not None and (not isinstance(details, dict) or len(details) <= 1)


def _strings(tree: dict[str, Any]) -> Iterator[str]:
    for value in tree.values():
        if isinstance(value, dict):
            yield from _strings(value)
        elif isinstance(value, str):
            yield value


@pytest.mark.parametrize("kind", [*JACKSON_FORMATS, *RECORD_FORMATS])
def test_kete_writes_the_bytes_the_original_writes(original: Answers, written_events: list[Event], kind: str) -> None:
    ours = serializer(kind)
    compared = 0
    unknown: set[str] = set()
    for event, theirs in zip(written_events, original["write", kind], strict=True):
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
        assert not theirs.startswith("!"), f"the original cannot write {event!r} ({theirs}), but kete did: {payload!r}"
        if _deterministic(kind, event):
            assert payload == base64.b64decode(theirs), event
            compared += 1
    deterministic = sum(_deterministic(kind, event) for event in written_events)
    assert compared >= deterministic - 250 and len(unknown) <= 5, (compared, deterministic, unknown)


def jackson_input(event: Event) -> dict[str, Any]:
    """What the Java side reads back from csv: the bean's columns, the nested ones empty."""
    tree = event.to_kete()
    columns = USER_COLUMNS if event.kind == EVENT else ADMIN_COLUMNS
    return {column: None if column in NESTED else tree.get(column) for column in columns}


def expected(kind: str, value: Any) -> Any:
    """What *kind*'s Jackson reader gives back for *value* of ``Event.to_kete()``: YAML and the binary
    formats keep types; TOML writes null as ''; properties and XML hold only text (properties leave out
    an empty object)."""
    if isinstance(value, dict):
        items = {key: expected(kind, item) for key, item in value.items()}
        if kind == "properties":
            return {key: item for key, item in items.items() if item != {}}
        return items if items or kind != "xml" else ""
    if value is None:
        return None if kind in ("yaml", "cbor", "smile") else ""
    return value if kind in ("yaml", "toml", "cbor", "smile") else str(value)


def expected_record(kind: str, event: Event) -> dict[str, Any]:
    """What Avro's ``GenericData`` or protobuf-java's ``DynamicMessage`` read: the original's record,
    with the admin ``details`` field of the newest schemas empty; protobuf has proto3's defaults
    (``""``, ``0``, an empty map) where a value is absent."""
    record = original_record(event)
    if event.kind != EVENT:
        record["details"] = None
    if kind == "avro":
        return record

    def proto3(name: str, value: Any) -> Any:
        if name == "auth_details":
            return None if value is None else {key: item or "" for key, item in value.items()}
        if name == "details":
            return value or {}
        return value or (0 if name == "time" else "")

    return {name: proto3(name, value) for name, value in record.items()}


@pytest.mark.parametrize("kind", READ_KINDS)
def test_the_original_reads_back_every_field(original: Answers, events: list[Event], kind: str) -> None:
    trees = original["read", kind]
    read = readable(kind, events + sample_events() + edges())
    for event, tree in zip(read, trees, strict=True):
        assert not tree.startswith("!"), f"{kind} of {event!r}: {tree}"
        if kind == "csv":
            assert json.loads(tree) == expected(kind, jackson_input(event)), event
        elif kind in ("url-encoded-form", "multipart-form"):
            assert json.loads(tree) == dict(form_fields(event, "bracket")), event
        elif kind in RECORD_FORMATS:
            assert json.loads(tree) == expected_record(kind, event), event
        else:
            assert json.loads(tree) == expected(kind, event.to_kete()), event
