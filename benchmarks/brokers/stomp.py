"""kete's ``stomp`` sink next to a plain client (stomp.py) sending the same payloads (kete's JSON) with the same
headers to RabbitMQ 3's STOMP plugin (the test suite's broker), each SEND with a ``receipt`` and counted when its
RECEIPT arrives. The client sends every frame, then waits for all receipts; its time runs from the first SEND
to the last RECEIPT, on a connection opened before. kete is ``kete run`` from a file (source, spool,
serializer, sink), less its start-up time."""

from __future__ import annotations

import tempfile
import threading
import time
from importlib.metadata import version
from pathlib import Path

import stomp

from benchmarks.brokers._rabbitmq import EXCHANGE, fresh_queue, records
from benchmarks.common import make_events
from benchmarks.throughput import Line, kete_rate
from tests.services.rabbitmq_fixtures import PASSWORD, USER, running_rabbitmq


def _client(port: int, events_file: Path) -> float:
    batch = records(events_file)
    done = threading.Event()
    receipts = 0

    class Count(stomp.ConnectionListener):  # type: ignore[misc]
        def on_receipt(self, frame: object) -> None:
            nonlocal receipts
            receipts += 1
            if receipts == len(batch):
                done.set()

    connection = stomp.Connection12([("127.0.0.1", port)], vhost="/", auto_decode=False)
    connection.set_listener("count", Count())
    connection.connect(USER, PASSWORD, wait=True)
    try:
        started = time.perf_counter()
        for number, (event, payload) in enumerate(batch):
            headers = {"eventkind": event.kind, "eventtype": event.event_type, "receipt": f"r-{number}"}
            connection.send(f"/exchange/{EXCHANGE}/bench", payload, content_type="application/json", headers=headers)
        if not done.wait(300):
            raise RuntimeError(f"only {receipts} of {len(batch)} receipts came")
        return len(batch) / (time.perf_counter() - started)
    finally:
        connection.disconnect()


def lines(events: int) -> list[Line]:
    with tempfile.TemporaryDirectory(prefix="kete-bench-stomp-") as tmp:
        folder = Path(tmp)
        events_file = make_events(folder / "events.jsonl", events)
        with running_rabbitmq(folder) as broker:
            port = broker.port("stomp")
            fresh_queue(broker)
            _client(port, events_file)  # warm-up
            fresh_queue(broker)
            client = _client(port, events_file)
            fresh_queue(broker)
            destination = (
                f'kind = "stomp"\nhost = "127.0.0.1"\nport = {port}\nusername = "{USER}"\npassword = "{PASSWORD}"\n'
                f'virtual-host = "/"\ndestination = "/exchange/{EXCHANGE}/bench"\n'
            )
            kete = kete_rate(folder, events_file, events, destination)
            fresh_queue(broker)
        note = f"RabbitMQ 3.10 STOMP plugin; stomp.py {version('stomp-py')}, a receipt for every SEND, all in flight"
        return [Line("stomp (RabbitMQ)", kete, client, note)]
