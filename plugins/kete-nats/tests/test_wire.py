"""The sinks write each batch as protocol bytes of their own (kete_nats.wire): those bytes must be
exactly what nats-py's ``Client.publish`` writes for the same messages. Both go through a relay
that records what reaches the session's real nats-server, for every event of examples/events.jsonl."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import nats
import orjson
import pytest

from kete_core import ComponentConfig, ConfigError, Message, parse_event
from kete_core.builtins.json_serializer import JsonSerializer
from kete_core.testing import build_sink
from kete_core.testing.services import free_ports

pytestmark = pytest.mark.nats

EXAMPLE_EVENTS = Path(__file__).resolve().parents[3] / "examples" / "events.jsonl"
_HPUB = re.compile(rb"HPUB (\S+) (\S*) ?(\d+) (\d+)\r\n")


class RecordingRelay:
    """A TCP relay in front of the server that keeps every byte the client sent."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        (self.port,) = free_ports(1)
        self.sent = bytearray()
        self._server: asyncio.Server | None = None
        self._relays: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> RecordingRelay:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        # The clients closed: each relay ends once the server has closed its side too.
        await asyncio.wait_for(asyncio.gather(*self._relays), 10)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._relays.add(task)
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter, record: bool) -> None:
            while data := await source.read(65536):
                if record:
                    self.sent += data
                sink.write(data)
                await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, upstream_writer, True), pipe(upstream_reader, writer, False))


def hpub_commands(sent: bytes) -> list[bytes]:
    """The whole ``HPUB`` commands (line, headers, payload, CRLF) in what a client sent."""
    commands, position = [], 0
    while (found := _HPUB.search(sent, position)) is not None:
        end = found.end() + int(found.group(4)) + 2
        commands.append(sent[found.start() : end])
        position = end
    return commands


def example_messages() -> list[Message]:
    serializer = JsonSerializer(ComponentConfig())
    events = [parse_event(orjson.loads(line)) for line in EXAMPLE_EVENTS.read_bytes().splitlines() if line.strip()]
    return [Message(event, serializer.serialize(event), serializer.content_type) for event in events]


async def test_core_nats_bytes_are_nats_py_publish_bytes(nats_server, capture):
    messages = example_messages()
    settings = {
        "subject": f"{capture.prefix}.${{realmLowerCase}}.${{eventTypeLowerCase}}",
        "authentication-method": "none",
        "headers": {
            "x-realm": "  ${realmUpperCase} ",
            "x-pipeline": "kete\r\nv2",
            "x-blank": "${resourceTypeLowerCase}",
        },
    }
    async with RecordingRelay(nats_server.port) as by_kete:
        sink = build_sink("nats", {**settings, "servers": f"nats://127.0.0.1:{by_kete.port}"})
        await sink.start()
        assert await sink.send(messages) is None
        await sink.close()
    subjects = sink.subject.render_all([message.event for message in messages])  # type: ignore[attr-defined]
    async with RecordingRelay(nats_server.port) as by_client:
        connection = await nats.connect(f"nats://127.0.0.1:{by_client.port}")
        for subject, message in zip(subjects, messages, strict=True):
            await connection.publish(subject, message.payload, headers=sink.headers(message))  # type: ignore[attr-defined]
        await connection.flush()
        await connection.close()
    written = hpub_commands(bytes(by_kete.sent))
    assert len(written) == len(messages) > 40
    assert written == hpub_commands(bytes(by_client.sent))
    assert len(capture.wait(2 * len(messages))) == 2 * len(messages)


async def test_jetstream_bytes_are_nats_py_publish_bytes(nats_server, capture):
    messages = example_messages()
    settings = {
        "subject": f"{capture.prefix}.${{realmLowerCase}}",
        "stream": capture.name,
        "authentication-method": "none",
    }
    async with RecordingRelay(nats_server.port) as by_kete:
        sink = build_sink("nats-jetstream", {**settings, "servers": f"nats://127.0.0.1:{by_kete.port}"})
        await sink.start()
        assert await sink.send(messages) is None
        await sink.close()
    written = hpub_commands(bytes(by_kete.sent))
    # The reply subjects are the sink's own inbox: the client publishes with the same ones.
    replies = [_HPUB.match(command).group(2).decode() for command in written]  # type: ignore[union-attr]
    subjects = sink.subject.render_all([message.event for message in messages])  # type: ignore[attr-defined]
    async with RecordingRelay(nats_server.port) as by_client:
        connection = await nats.connect(f"nats://127.0.0.1:{by_client.port}")
        for subject, reply, message in zip(subjects, replies, messages, strict=True):
            await connection.publish(subject, message.payload, reply=reply, headers=sink.headers(message))  # type: ignore[attr-defined]
        await connection.flush()
        await connection.close()
    assert len(written) == len(messages)
    assert written == hpub_commands(bytes(by_client.sent))


def test_a_header_name_nats_refuses_is_a_configuration_error():
    with pytest.raises(ConfigError) as raised:
        settings = {"servers": "nats://127.0.0.1:4222", "subject": "s", "authentication-method": "none"}
        build_sink("nats", {**settings, "headers": {"bad name": "x"}})
    assert raised.value.path == "routes.contract.destination.headers.bad name"
    assert "not a NATS header name" in raised.value.message
