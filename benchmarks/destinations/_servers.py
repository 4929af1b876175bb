"""The servers the websocket, socketio and signalr benchmarks send to, each in its own process:
``python -m benchmarks.destinations._servers KIND PORT_FILE``. The server listens on a free port of
127.0.0.1 and writes ``<port> <count port>`` to PORT_FILE; ``GET http://127.0.0.1:<count port>/``
answers how many events it has received.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

from aiohttp import WSMsgType, web


async def _websocket(count: Callable[[], None]) -> web.AppRunner:
    async def handle(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                count()
        return ws

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    return web.AppRunner(app, access_log=None)


async def _socketio(count: Callable[[], None]) -> web.AppRunner:
    import socketio

    server = socketio.AsyncServer(async_mode="aiohttp")

    async def event(name: str, sid: str, *data: object) -> str:
        count()
        return "ok"

    server.on("*", event)
    app = web.Application()
    server.attach(app)
    return web.AppRunner(app, access_log=None)


async def main(kind: str, port_file: Path) -> None:
    received = 0

    def count() -> None:
        nonlocal received
        received += 1

    async def counted(request: web.Request) -> web.Response:
        return web.Response(text=str(received))

    if kind == "signalr":
        from kete_signalr.testing import Hub

        hub = await Hub().start()
        port = hub.port

        def total() -> int:
            return len(hub.invocations)
    else:
        runner = await (_websocket if kind == "websocket" else _socketio)(count)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, backlog=1024).start()
        port = runner.addresses[0][1]

        def total() -> int:
            return received

    async def answer(request: web.Request) -> web.Response:
        return web.Response(text=str(total()))

    app = web.Application()
    app.router.add_get("/", answer)
    counter = web.AppRunner(app, access_log=None)
    await counter.setup()
    await web.TCPSite(counter, "127.0.0.1", 0).start()
    port_file.write_text(f"{port} {counter.addresses[0][1]}")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
