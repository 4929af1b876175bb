"""Serving the test servers' aiohttp applications on 127.0.0.1."""

from __future__ import annotations

import ssl

from aiohttp import web


async def serve(app: web.Application, port: int, tls: ssl.SSLContext | None = None) -> tuple[int, web.AppRunner]:
    """Serve *app* on 127.0.0.1:*port* (0: a free one), over HTTPS with *tls*; the port it listens on,
    and its runner."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=tls).start()
    return runner.addresses[0][1], runner


async def stop(runner: web.AppRunner | None) -> None:
    """Stop serving (the port is free again for a restart on it)."""
    if runner is not None:
        await runner.cleanup()
