"""kete's ``gcp-pubsub`` sink next to a plain aiohttp client publishing the same payloads and attributes
to the same Pub/Sub REST server (:mod:`kete_gcp.testing`, in another process, no credentials as an
emulator), 1000 messages a ``:publish`` request (the service's limit), 4 requests in flight, counting a
message when its id comes back. kete is ``kete run`` from a file (source, spool, serializer, sink), less
its start-up time. google-cloud-pubsub speaks gRPC, which the REST test server does not.

``gcp-cloud-tasks`` likewise, next to a grpcio client calling ``CreateTask`` with the same tasks on the same
Cloud Tasks gRPC server (:mod:`kete_gcp.testing`, another process), 64 calls in flight as kete's
``max-concurrency``."""

from __future__ import annotations

import asyncio
import base64
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson

from benchmarks.common import make_events
from benchmarks.destinations._server import serving
from benchmarks.throughput import Line, kete_rate
from kete_core import ComponentConfig, parse_event
from kete_core.builtins.json_serializer import JsonSerializer

TOPIC = "bench"
PROJECT = "kete-bench"
BATCH = 1000
IN_FLIGHT = 4
QUEUE = "bench"
LOCATION = "europe-west1"
TASK_CALLS = 64


def _serve(port_file: str) -> None:
    """The Pub/Sub REST server, keeping no messages (run in its own process)."""
    from kete_gcp.testing import PubSubServer

    async def main() -> None:
        server = PubSubServer(project=PROJECT, topics={TOPIC}, authenticate=False)
        await server.start()
        Path(port_file).write_text(str(server.port))
        while True:
            await asyncio.sleep(0.5)
            server.published.clear()

    asyncio.run(main())


async def _client(port: int, messages: list[dict[str, object]]) -> float:
    url = f"http://127.0.0.1:{port}/v1/projects/{PROJECT}/topics/{TOPIC}:publish"
    bodies = iter([orjson.dumps({"messages": messages[i : i + BATCH]}) for i in range(0, len(messages), BATCH)])
    async with aiohttp.ClientSession() as session:
        async with session.get(url.removesuffix(":publish")) as response:  # connected before the clock starts
            await response.read()

        async def worker() -> None:
            for body in bodies:
                async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
                    assert response.status == 200, await response.text()
                    await response.read()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
        return len(messages) / (time.perf_counter() - started)


def client_rate(port: int, events_file: Path) -> float:
    """Events/s of an aiohttp client publishing each event's kete payload with kete's attributes."""
    serializer = JsonSerializer(ComponentConfig())
    messages = []
    for line in events_file.read_bytes().splitlines():
        event = parse_event(orjson.loads(line))
        attributes = {"eventkind": event.kind, "eventtype": event.event_type, "contenttype": "application/json"}
        data = base64.b64encode(serializer.serialize(event)).decode()
        messages.append({"data": data, "attributes": attributes})
    return asyncio.run(_client(port, messages))


def _serve_tasks(port_file: str) -> None:
    """The Cloud Tasks gRPC server, keeping no tasks (run in its own process)."""
    from kete_gcp.testing import CloudTasksServer

    async def main() -> None:
        server = CloudTasksServer(project=PROJECT, location=LOCATION, queues={QUEUE})
        await server.start()
        Path(port_file).write_text(str(server.port))
        while True:
            await asyncio.sleep(0.5)
            server.tasks.clear()

    asyncio.run(main())


async def _tasks_client(port: int, requests: list[bytes]) -> float:
    import grpc.aio

    parent = f"projects/{PROJECT}/locations/{LOCATION}/queues/{QUEUE}"
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary("/google.cloud.tasks.v2.CloudTasks/CreateTask")
        metadata = [("x-goog-request-params", f"parent={parent}")]
        await call(requests[0], metadata=metadata)  # connected before the clock starts
        pending = iter(requests)

        async def worker() -> None:
            for request in pending:
                await call(request, metadata=metadata)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(TASK_CALLS)))
        return len(requests) / (time.perf_counter() - started)


def tasks_client_rate(port: int, events_file: Path) -> float:
    """Events/s of a grpcio client creating each event's task as kete builds it (serialized requests)."""
    from kete_gcp.cloudtasks import CreateTaskRequest, HttpRequest, Task

    serializer = JsonSerializer(ComponentConfig())
    parent = f"projects/{PROJECT}/locations/{LOCATION}/queues/{QUEUE}"
    requests = []
    for line in events_file.read_bytes().splitlines():
        event = parse_event(orjson.loads(line))
        headers = {"eventkind": event.kind, "eventtype": event.event_type, "contenttype": "application/json"}
        http = HttpRequest(url="http://127.0.0.1/", http_method="POST", headers=headers,
                           body=serializer.serialize(event))  # fmt: skip
        requests.append(CreateTaskRequest(parent=parent, task=Task(http_request=http)).SerializeToString())
    return asyncio.run(_tasks_client(port, requests))


def _tasks_line(folder: Path, events: int, events_file: Path) -> Line:
    import grpc

    with serving(_serve_tasks, folder) as port:
        tasks_client_rate(port, events_file)  # warm-up
        client = tasks_client_rate(port, events_file)
        destination = (
            f'kind = "gcp-cloud-tasks"\nproject = "{PROJECT}"\nlocation = "{LOCATION}"\nqueue = "{QUEUE}"\n'
            f'target-url = "http://127.0.0.1/"\nendpoint = "127.0.0.1:{port}"\nuse-plaintext = true\n'
        )
        kete = kete_rate(folder, events_file, events, destination)
    note = f"one CreateTask per event, {TASK_CALLS} in flight; grpcio {grpc.__version__}"
    return Line("gcp-cloud-tasks (Cloud Tasks gRPC server, no TLS)", kete, client, note)


def lines(events: int) -> list[Line]:
    with tempfile.TemporaryDirectory(prefix="kete-bench-gcp-") as tmp:
        folder = Path(tmp)
        with serving(_serve, folder) as port:
            events_file = make_events(folder / "events.jsonl", events)
            client_rate(port, events_file)  # warm-up
            client = client_rate(port, events_file)
            destination = (
                f'kind = "gcp-pubsub"\nproject = "{PROJECT}"\ntopic = "{TOPIC}"\nurl = "http://127.0.0.1:{port}"\n'
            )
            kete = kete_rate(folder, events_file, events, destination)
            note = f"REST :publish, up to {BATCH} messages a request, ids counted; aiohttp {aiohttp.__version__}"
        pubsub = Line("gcp-pubsub (Pub/Sub REST server, no TLS)", kete, client, note)
        return [pubsub, _tasks_line(folder, events, events_file)]
