"""A KETE ``.properties`` configuration that uses each of these serializers runs unchanged, and each
route's payloads carry the serializer's content type."""

from __future__ import annotations

import json
from pathlib import Path

from kete_core import Event
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
