"""Peers for the ZeroMQ plugin's tests: real pyzmq PULL and SUB sockets on free 127.0.0.1 ports, each
read by its own thread, and background ``kete run``. ZeroMQ needs no broker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
import zmq

from kete_core.testing.services import free_ports


class Peer:
    """A PULL or SUB socket that binds (or connects to) ``endpoint`` and keeps every message's frames."""

    def __init__(
        self,
        kind: int,
        endpoint: str,
        *,
        bind: bool = True,
        subscribe: bytes = b"",
        curve_secret: bytes | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.messages: list[list[bytes]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._context = zmq.Context()
        self._socket = self._context.socket(kind)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.RECONNECT_IVL, 50)
        if curve_secret is not None:
            self._socket.curve_server = True
            self._socket.curve_secretkey = curve_secret
        if kind == zmq.SUB:
            self._socket.setsockopt(zmq.SUBSCRIBE, subscribe)
        (self._socket.bind if bind else self._socket.connect)(endpoint)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        poller = zmq.Poller()
        poller.register(self._socket, zmq.POLLIN)
        while not self._stop.is_set():
            if poller.poll(50):
                frames = self._socket.recv_multipart()
                with self._lock:
                    self.messages.append(frames)
        self._socket.close(0)

    def payloads(self) -> list[bytes]:
        with self._lock:
            return [frames[-1] for frames in self.messages]

    def wait_for(self, condition: Callable[[list[list[bytes]]], bool], timeout: float = 30.0) -> list[list[bytes]]:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                got = list(self.messages)
            if condition(got) or time.monotonic() > deadline:
                return got
            time.sleep(0.05)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._context.term()


@pytest.fixture
def endpoint() -> str:
    """``tcp://127.0.0.1:<a free port>``."""
    (port,) = free_ports(1)
    return f"tcp://127.0.0.1:{port}"


@pytest.fixture
def peer() -> Iterator[Callable[..., Peer]]:
    """``peer(zmq.PULL, endpoint, bind=True, subscribe=b"", curve_secret=None)``: closed at the end."""
    made: list[Peer] = []

    def make(kind: int, endpoint: str, **options: object) -> Peer:
        made.append(Peer(kind, endpoint, **options))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for each in made:
        each.close()
