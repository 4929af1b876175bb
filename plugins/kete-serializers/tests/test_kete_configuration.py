"""A KETE ``.properties`` configuration that uses each of these serializers runs unchanged, and each
route's payloads carry the serializer's content type."""

from __future__ import annotations

import io
import json
from pathlib import Path

import cbor2
import fastavro
import pytest
from kete_file.sink import read_records
from kete_serializers.avro_serializer import schema
from kete_serializers.protobuf_serializer import message_class

from kete_core import EVENT, Event, Serializer
from kete_core.testing import load_app, memory_kinds, run_app, run_kete

KINDS = (
    "yaml", "xml", "csv", "toml", "properties", "url-encoded-form", "multipart-form", "cbor", "smile", "avro",
    "protobuf", "template",
)  # fmt: skip


def kete_properties(
    tmp_path: Path, events: list[Event], kinds: tuple[str, ...], destination: str, extra: list[str]
) -> Path:
    """A KETE ``.properties`` file reading *events* from a file, with a route named after each of *kinds*
    serializing with it to *destination* (``destination.*`` lines, ``{kind}`` filled in), plus *extra* lines."""
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(event.data) + "\n" for event in events))
    lines = [f"kete.sources.in.kind=file\nkete.sources.in.path={tmp_path / 'events.jsonl'}"]
    for kind in kinds:
        lines.append(f"kete.routes.{kind}.serializer.kind={kind}")
        lines += [f"kete.routes.{kind}.{line}" for line in destination.format(kind=kind).splitlines()]
    config = tmp_path / "kete.properties"
    config.write_text("\n".join([*lines, *extra]) + "\n")
    return config


def test_each_kind_in_a_kete_properties_configuration(tmp_path: Path, events: list[Event]) -> None:
    extra = [
        "kete.routes.multipart-form.serializer.nesting-notation=DOT",
        "kete.routes.template.serializer.template-file-text=${id} ${type}${operationType};",
        "kete.routes.template.serializer.content-type=text/x-kete",
    ]
    config = kete_properties(tmp_path, events[:40], KINDS, "destination.kind=memory\ndestination.store={kind}", extra)
    with memory_kinds():
        app = load_app(config, {"KETE_STATE_DIR": str(tmp_path / "state")})
        stats = run_app(app)
        sinks = {route.name: route.sink for route in app.routes}
        for kind in KINDS:
            messages = sinks[kind].messages  # type: ignore[attr-defined]
            assert len(messages) == 40 and stats.routes[kind].failed == 0, kind
            assert {message.content_type for message in messages} == {
                app.routes[KINDS.index(kind)].serializer.content_type
            }
        assert b'name="details.username"' in sinks["multipart-form"].messages[0].payload  # type: ignore[attr-defined]
        assert sinks["template"].messages[0].payload == b"e1 AUTHREQID_TO_TOKEN;"  # type: ignore[attr-defined]
        assert sinks["template"].messages[0].content_type == "text/x-kete"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("kind", "setting", "value", "message"),
    [
        ("url-encoded-form", "nesting-notation", "brackets", "'bracket' or 'dot'"),
        ("template", "template-file-text", "${id} ${realm}", "unknown variable 'realm'"),
        ("template", "template-file-path", "/nonexistent/kete.tmpl", "No such file or directory"),
    ],
)
def test_kete_check_names_a_bad_serializer_setting(
    tmp_path: Path, kind: str, setting: str, value: str, message: str
) -> None:
    config = tmp_path / "kete.properties"
    config.write_text(
        f"kete.routes.r.serializer.kind={kind}\nkete.routes.r.serializer.{setting}={value}\n"
        "kete.routes.r.destination.kind=stdout\n"
    )
    result = run_kete("check", str(config))
    assert result.returncode == 2
    assert f"routes.r.serializer.{setting}" in result.stderr and message in result.stderr


def test_kete_check_names_the_binary_serializer_a_file_of_lines_cannot_hold(tmp_path: Path) -> None:
    config = tmp_path / "kete.properties"
    config.write_text(
        "kete.routes.r.serializer.kind=avro\n"
        f"kete.routes.r.destination.kind=file\nkete.routes.r.destination.path={tmp_path}/out.avro\n"
    )
    result = run_kete("check", str(config))
    assert result.returncode == 2
    assert "routes.r.destination.framing" in result.stderr
    assert "the serializer (avro) writes binary payloads" in result.stderr


FRAMED = ("cbor", "smile", "avro", "protobuf", "yaml", "properties", "multipart-form", "template")


def writable(serializer: Serializer, event: Event) -> bytes | None:
    """The payload of *event*, or None for an event the format refuses (it fails alone)."""
    try:
        return serializer.serialize(event)
    except ValueError:
        return None


def records(path: Path) -> list[bytes]:
    return read_records(path.read_bytes())


def test_binary_and_multi_line_formats_go_to_files_as_length_prefixed_records(
    tmp_path: Path, events: list[Event]
) -> None:
    chosen = events[:20] + events[-6:]
    destination = (
        f"destination.kind=file\ndestination.path={tmp_path}/out/{{kind}}.bin\ndestination.framing=length-prefixed"
    )
    extra = ["kete.routes.template.serializer.template-file-text=${id}\\n${details.username}\\n"]
    config = kete_properties(tmp_path, chosen, FRAMED, destination, extra)
    app = load_app(config, {"KETE_STATE_DIR": str(tmp_path / "state")})
    stats = run_app(app)
    for route in app.routes:
        expected = list(filter(None, (writable(route.serializer, event) for event in chosen)))
        assert records(tmp_path / "out" / f"{route.name}.bin") == expected, route.name
        assert stats.routes[route.name].failed == len(chosen) - len(expected), route.name
    cbor = records(tmp_path / "out" / "cbor.bin")
    assert [cbor2.loads(payload)["id"] for payload in cbor] == [event.id for event in chosen]
    avro = records(tmp_path / "out" / "avro.bin")
    pairs = zip(avro, chosen, strict=True)
    decoded = [fastavro.schemaless_reader(io.BytesIO(data), schema(event.kind), None) for data, event in pairs]
    assert [record["id"] for record in decoded] == [event.id for event in chosen]
    protobuf = records(tmp_path / "out" / "protobuf.bin")
    names = ["Event" if event.kind == EVENT else "AdminEvent" for event in chosen]
    messages = [message_class(name).FromString(data) for name, data in zip(names, protobuf, strict=True)]
    assert [message.id for message in messages] == [event.id for event in chosen]


def test_kete_plugins_lists_every_kind() -> None:
    result = run_kete("plugins")
    listed = {tuple(line.split()[:3]) for line in result.stdout.splitlines() if line.startswith("serializer")}
    assert {("serializer", kind, "kete-serializers") for kind in KINDS} <= listed
    assert len(KINDS) == 12  # every serializer kind of the original besides json
