"""A KETE ``.properties`` configuration that uses each of these serializers runs unchanged, and each
route's payloads carry the serializer's content type."""

from __future__ import annotations

import io
import json
from pathlib import Path

import cbor2
import fastavro
from kete_serializers.avro_serializer import schema
from kete_serializers.protobuf_serializer import message_class

from kete_core import EVENT, Event, Serializer
from kete_core.testing import load_app, memory_kinds, run_app, run_kete

KINDS = (
    "yaml", "xml", "csv", "toml", "properties", "url-encoded-form", "multipart-form", "cbor", "smile", "avro",
    "protobuf", "template",
)  # fmt: skip


def test_each_kind_in_a_kete_properties_configuration(tmp_path: Path, events: list[Event]) -> None:
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(event.data) + "\n" for event in events[:40]))
    lines = [f"kete.sources.in.kind=file\nkete.sources.in.path={tmp_path / 'events.jsonl'}"]
    for kind in KINDS:
        route = f"kete.routes.{kind}"
        lines.append(
            f"{route}.serializer.kind={kind}\n{route}.destination.kind=memory\n{route}.destination.store={kind}"
        )
    lines.append("kete.routes.multipart-form.serializer.nesting-notation=DOT")
    lines.append("kete.routes.template.serializer.template-file-text=${id} ${type}${operationType};")
    lines.append("kete.routes.template.serializer.content-type=text/x-kete")
    config = tmp_path / "kete.properties"
    config.write_text("\n".join(lines) + "\n")
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


def test_kete_check_names_a_bad_nesting_notation(tmp_path: Path) -> None:
    config = tmp_path / "kete.properties"
    config.write_text(
        "kete.routes.r.serializer.kind=url-encoded-form\nkete.routes.r.serializer.nesting-notation=brackets\n"
        "kete.routes.r.destination.kind=stdout\n"
    )
    result = run_kete("check", str(config))
    assert result.returncode == 2
    assert "routes.r.serializer.nesting-notation" in result.stderr and "'bracket' or 'dot'" in result.stderr


def test_kete_check_names_a_template_with_an_unknown_variable(tmp_path: Path) -> None:
    config = tmp_path / "kete.properties"
    config.write_text(
        "kete.routes.r.serializer.kind=template\nkete.routes.r.serializer.template-file-text=${id} ${realm}\n"
        "kete.routes.r.destination.kind=stdout\n"
    )
    result = run_kete("check", str(config))
    assert result.returncode == 2
    assert "routes.r.serializer.template-file-text" in result.stderr and "unknown variable 'realm'" in result.stderr


FRAMED = ("cbor", "smile", "avro", "protobuf", "yaml", "properties", "multipart-form", "template")


def writable(serializer: Serializer, event: Event) -> bytes | None:
    """The payload of *event*, or None for an event the format refuses (it fails alone)."""
    try:
        return serializer.serialize(event)
    except ValueError:
        return None


def records(path: Path) -> list[bytes]:
    """The payloads of a length-prefixed file (4 bytes big-endian, then the payload)."""
    data, found, at = path.read_bytes(), [], 0
    while at < len(data):
        length = int.from_bytes(data[at : at + 4])
        found.append(data[at + 4 : at + 4 + length])
        at += 4 + length
    return found


def test_binary_and_multi_line_formats_go_to_files_as_length_prefixed_records(
    tmp_path: Path, events: list[Event]
) -> None:
    chosen = events[:20] + events[-6:]
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(event.data) + "\n" for event in chosen))
    lines = [f"kete.sources.in.kind=file\nkete.sources.in.path={tmp_path / 'events.jsonl'}"]
    for kind in FRAMED:
        route = f"kete.routes.{kind}"
        lines.append(
            f"{route}.serializer.kind={kind}\n{route}.destination.kind=file\n"
            f"{route}.destination.path={tmp_path}/out/{kind}.bin\n{route}.destination.framing=length-prefixed"
        )
    lines.append("kete.routes.template.serializer.template-file-text=${id}\\n${details.username}\\n")
    config = tmp_path / "kete.properties"
    config.write_text("\n".join(lines) + "\n")
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
