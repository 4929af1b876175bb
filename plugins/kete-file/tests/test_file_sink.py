from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from kete_file.settings import FileSinkConfig
from kete_file.sink import FileSink, read_records

from kete_core.builtins.json_serializer import JsonSerializer
from kete_core.builtins.kete_renderer import KeteRenderer
from kete_core.contracts import ComponentConfig, Message, SinkContext
from kete_core.errors import ConfigError, PermanentError
from kete_core.event import parse_event


class BinaryJson(JsonSerializer):
    """The json serializer declaring binary payloads, as cbor or avro do."""

    binary = True


def make_sink(serializer_class: type[JsonSerializer] = JsonSerializer, **settings) -> FileSink:
    config = FileSinkConfig.model_validate(settings)
    serializer = serializer_class(ComponentConfig())
    context = SinkContext(
        route="r", path="routes.r.destination", renderer=KeteRenderer(ComponentConfig(), {}), serializer=serializer
    )
    return FileSink(config, context)


def message(realm: str = "acme", event_type: str = "LOGIN", **fields) -> Message:
    event = parse_event({"type": event_type, "realmName": realm, **fields})
    return Message(event, orjson.dumps(event.to_kete()), "application/json")


def send(sink: FileSink, messages):
    async def go():
        try:
            return await sink.send(messages)
        finally:
            await sink.close()

    return asyncio.run(go())


def test_one_line_per_event_in_templated_paths(tmp_path):
    sink = make_sink(path=f"{tmp_path}/out/${{realmLowerCase}}/${{kindKebabCase}}.jsonl")
    batch = [message("acme", id="1"), message("Other", id="2"), message("acme", "LOGOUT", id="3")]
    assert send(sink, batch) is None
    acme = (tmp_path / "out" / "acme" / "event.jsonl").read_bytes().splitlines()
    other = (tmp_path / "out" / "other" / "event.jsonl").read_bytes().splitlines()
    assert [orjson.loads(line)["id"] for line in acme] == ["1", "3"]
    assert [orjson.loads(line)["id"] for line in other] == ["2"]


def test_appends_to_existing_files(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"old":true}\n')
    send(make_sink(path=str(path)), [message(id="new")])
    assert [orjson.loads(line).get("id") for line in path.read_bytes().splitlines()] == [None, "new"]


def test_size_rotation_keeps_backups(tmp_path):
    path = tmp_path / "r.jsonl"
    sink = make_sink(path=str(path), **{"max-bytes": "300", "backups": 2})
    batch = [message(id=str(i)) for i in range(10)]
    assert send(sink, batch) is None
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["r.jsonl", "r.jsonl.1", "r.jsonl.2"]
    for name in files:
        assert (tmp_path / name).stat().st_size <= 300
    ids = [
        orjson.loads(line)["id"]
        for name in ("r.jsonl.2", "r.jsonl.1", "r.jsonl")
        for line in (tmp_path / name).read_bytes().splitlines()
    ]
    assert ids == [str(i) for i in range(10)][-len(ids) :]  # oldest rotated away, order kept


def test_fsync_policy_writes_durably(tmp_path):
    path = tmp_path / "durable.jsonl"
    assert send(make_sink(path=str(path), fsync="batch"), [message(id="a")]) is None
    assert path.read_bytes().count(b"\n") == 1


def test_a_variable_value_cannot_add_path_segments(tmp_path):
    sink = make_sink(path=f"{tmp_path}/${{realmLowerCase}}.jsonl")
    results = send(sink, [message("../escape", id="1"), message("fine", id="2"), message("a/b", id="3")])
    assert isinstance(results[0], PermanentError) and results[1] is None and isinstance(results[2], PermanentError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fine.jsonl"]


def test_payloads_with_newlines_fail_permanently(tmp_path):
    sink = make_sink(path=str(tmp_path / "x.jsonl"))
    event = parse_event({"type": "LOGIN"})
    [result] = send(sink, [Message(event, b"a: 1\nb: 2", "application/yaml")])
    assert isinstance(result, PermanentError) and "newline" in str(result)


def test_write_errors_are_reported_per_message_for_retry(tmp_path):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a directory should be")
    sink = make_sink(path=f"{tmp_path}/${{realmLowerCase}}/x.jsonl")
    results = send(sink, [message("blocked"), message("open")])
    assert isinstance(results[0], OSError) and results[1] is None


def test_unknown_template_variable_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"routes.r.destination.path: unknown template variable '\$\{realm\}'"):
        make_sink(path=f"{tmp_path}/${{realm}}.jsonl")


def test_open_file_limit(tmp_path):
    sink = make_sink(path=f"{tmp_path}/${{realmLowerCase}}.jsonl", **{"max-open-files": 2})
    assert send(sink, [message(f"realm{i}") for i in range(5)]) is None
    assert len(list(tmp_path.iterdir())) == 5
    assert len(list(Path("/proc/self/fd").iterdir())) < 200


def test_a_nul_byte_in_a_value_fails_that_event_alone(tmp_path):
    sink = make_sink(path=f"{tmp_path}/${{realmLowerCase}}/${{eventTypeKebabCase}}.jsonl")
    results = send(
        sink, [message("acme", id="1"), message("bad\x00realm", id="2"), message("acme", "LOG\x00IN", id="3")]
    )
    assert results[0] is None
    assert all(isinstance(result, PermanentError) and "NUL" in str(result) for result in results[1:])
    assert [orjson.loads(line)["id"] for line in (tmp_path / "acme" / "login.jsonl").read_bytes().splitlines()] == ["1"]


@pytest.mark.parametrize(
    "template",
    ["{tmp}/out/../out/${{realmLowerCase}}/events.jsonl", "{tmp}/../{name}/out/${{realmLowerCase}}/events.jsonl"],
    ids=["dotdot-before", "climbing-template"],
)
def test_a_value_cannot_climb_even_when_the_template_does(tmp_path, template):
    path = template.format(tmp=tmp_path, name=tmp_path.name)
    sink = make_sink(path=path)
    results = send(sink, [message("..", id="1"), message(".", id="2"), message("fine", id="3")])
    assert isinstance(results[0], PermanentError) and isinstance(results[1], PermanentError) and results[2] is None
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.jsonl")) == ["out/fine/events.jsonl"]


def test_a_failing_file_does_not_rewrite_the_events_written_before_it(tmp_path):
    (tmp_path / "r.jsonl.1").mkdir()  # rotation cannot move the full file aside
    sink = make_sink(path=str(tmp_path / "r.jsonl"), **{"max-bytes": "400", "backups": 1})
    results = send(sink, [message(id=str(i)) for i in range(6)])
    written = [orjson.loads(line)["id"] for line in (tmp_path / "r.jsonl").read_bytes().splitlines()]
    assert written and all(result is None for result in results[: len(written)])
    assert all(isinstance(result, OSError) for result in results[len(written) :])


def records(path: Path) -> list[bytes]:
    return read_records(path.read_bytes())


def raw_message(payload: bytes, **fields) -> Message:
    return Message(parse_event({"type": "LOGIN", **fields}), payload, "application/octet-stream")


def test_length_prefixed_records_carry_any_bytes(tmp_path):
    path = tmp_path / "x.bin"
    payloads = [b"a: 1\nb: 2\n", b"\x00\n\xff\r\n", b"", b"x" * 70_000]
    assert send(make_sink(BinaryJson, path=str(path), framing="Length-Prefixed"), [*map(raw_message, payloads)]) is None
    assert path.read_bytes()[:4] == b"\x00\x00\x00\x0a"  # 4 bytes, big-endian
    assert send(make_sink(BinaryJson, path=str(path), framing="length-prefixed"), [raw_message(b"more")]) is None
    assert records(path) == [*payloads, b"more"]


def test_length_prefixed_rotation_keeps_records_whole(tmp_path):
    path = tmp_path / "r.bin"
    sink = make_sink(path=str(path), framing="length-prefixed", **{"max-bytes": "100", "backups": 3})
    assert send(sink, [raw_message(b"%02d\n" % i * 10) for i in range(6)]) is None
    rotated = [records(tmp_path / name) for name in ("r.bin.2", "r.bin.1", "r.bin")]  # 34-byte records, 2 a file
    assert [len(chunk) for chunk in rotated] == [2, 2, 2]
    assert [payload[:2] for chunk in rotated for payload in chunk] == [b"%02d" % i for i in range(6)]


def test_a_partial_last_record_is_cut_and_a_file_of_lines_is_left_alone(tmp_path, caplog):
    path = tmp_path / "x.bin"
    path.write_bytes(b"\x00\x00\x00\x02ok" + b"\x00\x00\x00\x09cut")  # a crash in the middle of a record
    assert send(make_sink(path=str(path), framing="length-prefixed"), [raw_message(b"new")]) is None
    assert records(path) == [b"ok", b"new"] and "partial last record of 7 bytes" in caplog.text
    lines = tmp_path / "x.jsonl"
    lines.write_bytes(b'{"id":"1"}\n')
    [result] = send(make_sink(path=str(lines), framing="length-prefixed"), [raw_message(b"new")])
    assert isinstance(result, PermanentError) and "no length-prefixed record" in str(result)
    assert lines.read_bytes() == b'{"id":"1"}\n'


def test_lines_refuse_a_binary_serializer_with_a_hint(tmp_path):
    with pytest.raises(ConfigError, match=r"routes.r.destination.framing: .* binary payloads") as caught:
        make_sink(BinaryJson, path=str(tmp_path / "x.bin"))
    assert 'framing = "length-prefixed"' in str(caught.value)


def test_reading_records_refuses_a_partial_one():
    assert read_records(b"\x00\x00\x00\x01a\x00\x00\x00\x00") == [b"a", b""]
    with pytest.raises(ValueError, match="inside the record at byte 5"):
        read_records(b"\x00\x00\x00\x01a\x00\x00\x00\x02b")
