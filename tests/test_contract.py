"""The built-in components and the kit's in-memory ones pass their contract classes."""

from __future__ import annotations

import pytest

from kete_core.builtins.kete_renderer import BASE_VARIABLES, KeteRenderer
from kete_core.cases import CASES
from kete_core.contracts import ComponentConfig
from kete_core.testing import (
    MemorySource,
    RendererContract,
    SerializerContract,
    SinkContract,
    SourceContract,
    memory_kinds,
)


class TestFileSource(SourceContract):
    kind = "file"

    @pytest.fixture
    def source_settings(self, tmp_path):
        return {"path": str(tmp_path / "in.jsonl"), "follow": True, "poll-interval": "20ms"}

    @pytest.fixture
    def feed(self, tmp_path):
        def append(records):
            with (tmp_path / "in.jsonl").open("ab") as out:
                out.write(b"".join(record + b"\n" for record in records))

        (tmp_path / "in.jsonl").touch()
        return append


class TestMemorySource(SourceContract):
    kind = "memory"

    @pytest.fixture
    def source_settings(self):
        return {"store": "contract-input", "follow": True}

    @pytest.fixture
    def feed(self):
        def put(records):
            MemorySource.stores.setdefault("contract-input", []).extend(records)

        return put


class TestStdoutSink(SinkContract):
    kind = "stdout"

    @pytest.fixture
    def sink_settings(self):
        return {}

    @pytest.fixture
    def read_back(self, capsysbinary):
        seen: list[bytes] = []

        def read():
            seen.extend(capsysbinary.readouterr().out.splitlines())
            return seen

        return read


class TestDiscardSink(SinkContract):
    kind = "discard"

    @pytest.fixture
    def sink_settings(self):
        return {"key": "${realmLowerCase}/${eventTypeKebabCase}"}

    @pytest.fixture
    def read_back(self):
        return None  # it keeps nothing to read back


class TestMemorySink(SinkContract):
    kind = "memory"

    @pytest.fixture
    def sink_settings(self):
        return {"store": "contract-output"}

    @pytest.fixture
    def read_back(self):
        from kete_core.testing import MemorySink

        return lambda: [message.payload for message in MemorySink.stores.get("contract-output", [])]

    @pytest.fixture
    def unreachable_settings(self):
        return {"unavailable": True}


class TestJsonSerializer(SerializerContract):
    kind = "json"

    def decode(self, payload):
        import orjson

        return orjson.loads(payload)


class TestKeteRenderer(RendererContract):
    kind = "kete"
    variables = [f"${{{field}{case}}}" for field in BASE_VARIABLES for case in CASES]
    unknown = "${realm}"


def test_the_renderer_contract_covers_every_variable_of_the_kete_renderer():
    assert {text[2:-1] for text in TestKeteRenderer.variables} == set(KeteRenderer(ComponentConfig(), {}).known)


def test_memory_kinds_exist_only_inside_the_block(tmp_path):
    from kete_core.discovery import load
    from kete_core.errors import PluginError

    with memory_kinds():
        assert load("sink", "memory")[0].__name__ == "MemorySink"
    with pytest.raises(PluginError, match="unknown destination kind 'memory'"):
        load("sink", "memory")


def test_the_hook_recorder_sees_every_hook_in_order(tmp_path):
    from kete_core.testing import HookRecorder, load_app, run_app, write_config

    config = write_config(
        tmp_path / "kete.toml",
        {
            "kete": {"data-dir": str(tmp_path / "data")},
            "sources": {"in": {"kind": "memory", "events": [{"type": "LOGIN", "realmName": "a"}, "not json"]}},
            "routes": {"out": {"destination": {"kind": "memory"}}},
        },
    )
    recorder = HookRecorder()
    with memory_kinds():
        app = load_app(config, plugins=[recorder])
        stats = run_app(app)
        assert [message.event.event_type for message in app.routes[0].sink.messages] == ["LOGIN"]
    assert stats.rejected == {"in": 1}
    assert recorder.names() == [
        "configure", "template_variables", "startup", "event_rejected", "after_receive", "after_match",
        "before_emit", "after_emit", "shutdown",
    ]  # fmt: skip
    [emitted] = recorder.calls_of("kete_after_emit")
    assert emitted.route == "out" and [m.event.event_type for m in emitted.messages] == ["LOGIN"]
    assert recorder.calls_of("event_rejected")[0].rejection.where == "memory:1"


def test_every_name_the_testing_package_exports_is_what_it_says():
    # A submodule named like an exported helper would shadow the helper on the package.
    import kete_core.testing as testing

    for name in testing.__all__:
        assert not isinstance(getattr(testing, name), type(testing)), name
