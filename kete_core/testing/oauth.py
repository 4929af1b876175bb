"""A real OAuth 2.0 token endpoint (client credentials) on 127.0.0.1, for the tests of sinks that
take KETE's ``oauth.*`` settings. It needs aiohttp, which those sinks depend on."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class TokenEndpoint:
    """Issues ``token-1``, ``token-2``, … to ``client_id``/``client_secret`` (HTTP Basic or form);
    anything else gets 401. ``settings`` are the matching ``oauth.*`` settings."""

    client_id: str = "kete"
    client_secret: str = "s3cret"
    expires_in: int | None = 300
    issued: list[str] = field(default_factory=list)
    forms: list[dict[str, Any]] = field(default_factory=list)
    """Each request's form, with its ``authorization`` header (None when absent)."""
    runner: web.AppRunner | None = None
    base: str = ""
    """The server's root, ``http://127.0.0.1:<port>``."""
    url: str = ""
    """The token URL."""

    @property
    def settings(self) -> dict[str, Any]:
        """The ``oauth.*`` settings for this endpoint (kebab-case keys)."""
        return {"token-url": self.url, "client-id": self.client_id, "client-secret": self.client_secret}

    async def start(self, path: str = "/token") -> TokenEndpoint:
        """Listen on a free port, issuing tokens at *path*."""
        app = web.Application()
        app.router.add_post(path, self._token)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.base = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        self.url = self.base + path
        return self

    async def stop(self) -> None:
        """Stop listening."""
        if self.runner is not None:
            await self.runner.cleanup()

    async def _token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.forms.append(form | {"authorization": request.headers.get("Authorization")})
        given = (form.get("client_id"), form.get("client_secret"))
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if scheme == "Basic":
            login, _, password = base64.b64decode(encoded).decode().partition(":")
            given = (login, password)
        if form.get("grant_type") != "client_credentials" or given != (self.client_id, self.client_secret):
            return web.json_response({"error": "invalid_client"}, status=401)
        token = f"token-{len(self.issued) + 1}"
        self.issued.append(token)
        body: dict[str, Any] = {"access_token": token, "token_type": "Bearer"}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        return web.json_response(body)
