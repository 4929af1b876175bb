"""Testing kete and its plugins: running kete, in-memory components, a hook recorder, the contract
test classes every plugin's tests subclass, and real test servers.

See "Testing your plugin" in ``docs/writing-plugins.md``. The contract classes need pytest and
pytest-asyncio; the rest only kete itself.
"""

from kete_core.testing.memory import MemorySink, MemorySource, delivered, memory_kinds, registered
from kete_core.testing.recorder import HookCall, HookRecorder
from kete_core.testing.runner import KeteProcess, load_app, read_jsonl, run_app, run_kete, write_jsonl

_CONTRACTS = frozenset({
    "MatcherContract", "RendererContract", "SerializerContract", "SinkContract", "SourceContract", "running",
    "user_event", "admin_event", "sample_events", "poison_events", "build_sink", "write_config",
    "json_message", "sink_builder", "send_once", "started_servers", "replay_config",
    "replay_properties",
})  # fmt: skip


def __getattr__(name: str) -> object:
    # The contract classes import pytest: only a test that asks for one pays for (and needs) it.
    if name in _CONTRACTS:
        from kete_core.testing import contracts

        return getattr(contracts, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [  # noqa: RUF022  (the contract names come first, then the rest)
    "MatcherContract",
    "RendererContract",
    "SerializerContract",
    "SinkContract",
    "SourceContract",
    "admin_event",
    "build_sink",
    "json_message",
    "poison_events",
    "replay_config",
    "replay_properties",
    "running",
    "sample_events",
    "send_once",
    "sink_builder",
    "started_servers",
    "user_event",
    "write_config",
    "HookCall",
    "HookRecorder",
    "KeteProcess",
    "MemorySink",
    "MemorySource",
    "delivered",
    "load_app",
    "memory_kinds",
    "read_jsonl",
    "registered",
    "run_app",
    "run_kete",
    "write_jsonl",
]
