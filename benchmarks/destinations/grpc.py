"""kete's ``grpc`` sink next to a plain grpcio client, both making one unary call per event with the same
payloads (kete's JSON) and metadata to a grpcio server in another process, counting a call when its
``OK`` arrives. The client keeps as many calls in flight as kete's ``max-concurrency`` (64) on one
channel, and its time runs from the first call to the last answer. kete is ``kete run`` from a file
(source, spool, serializer, sink), less its start-up time."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import grpc
import grpc.aio
import orjson

from benchmarks.common import make_events
from benchmarks.destinations._server import serving
from benchmarks.throughput import Line, kete_rate
from kete_core import ComponentConfig, parse_event
from kete_core.builtins.json_serializer import JsonSerializer

METHOD = "/kete.bench.Events/Send"
IN_FLIGHT = 64


def _serve(port_file: str) -> None:
    """A grpcio server answering every unary call with an empty message (run in its own process)."""

    class Handler(grpc.GenericRpcHandler):
        def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
            async def unary(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
                return b""

            return grpc.unary_unary_rpc_method_handler(unary)

    async def main() -> None:
        server = grpc.aio.server()
        server.add_generic_rpc_handlers((Handler(),))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        Path(port_file).write_text(str(port))
        await server.wait_for_termination()

    asyncio.run(main())


async def _client(port: int, records: list[tuple[bytes, tuple[tuple[str, str], ...]]]) -> float:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(METHOD)
        await call(b"", timeout=10)  # connected before the clock starts, as kete's probe
        pending = iter(records)

        async def worker() -> None:
            for payload, metadata in pending:
                await call(payload, metadata=metadata, timeout=10)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
        return len(records) / (time.perf_counter() - started)


def client_rate(port: int, events_file: Path) -> float:
    """Events/s of a grpcio client calling with each event's kete payload and kete's metadata."""
    serializer = JsonSerializer(ComponentConfig())
    records = []
    for line in events_file.read_bytes().splitlines():
        event = parse_event(orjson.loads(line))
        metadata = (("eventkind", event.kind), ("eventtype", event.event_type), ("contenttype", "application/json"))
        records.append((serializer.serialize(event), metadata))
    return asyncio.run(_client(port, records))


def lines(events: int) -> list[Line]:
    with tempfile.TemporaryDirectory(prefix="kete-bench-grpc-") as tmp:
        folder = Path(tmp)
        with serving(_serve, folder) as port:
            events_file = make_events(folder / "events.jsonl", events)
            client_rate(port, events_file)  # warm-up
            client = client_rate(port, events_file)
            service, method = METHOD.strip("/").split("/")
            destination = (
                f'kind = "grpc"\nhost = "127.0.0.1"\nport = {port}\nservice = "{service}"\nmethod = "{method}"\n'
                "use-plaintext = true\n"
            )
            kete = kete_rate(folder, events_file, events, destination)
            note = f"grpcio {grpc.__version__}, unary calls, {IN_FLIGHT} in flight, OK counted"
            return [Line("grpc (grpcio server, plaintext)", kete, client, note)]
