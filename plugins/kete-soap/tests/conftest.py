"""A real SOAP endpoint on 127.0.0.1 for the soap plugin's tests: an aiohttp server that parses every
envelope as XML, checks its version, namespace, body and headers, records what it received and answers
bad input with a SOAP fault."""

from __future__ import annotations

import base64
import gzip
import ssl
import xml.etree.ElementTree as ElementTree
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from multidict import CIMultiDict

from kete_core.testing import started_servers

NAMESPACES = {"1.1": "http://schemas.xmlsoap.org/soap/envelope/", "1.2": "http://www.w3.org/2003/05/soap-envelope"}
CONTENT_TYPES = {"1.1": "text/xml", "1.2": "application/soap+xml"}


@dataclass
class Envelope:
    path: str
    headers: CIMultiDict
    wire: bytes
    """The body as it arrived (compressed, base64-encoded if so configured)."""
    envelope: bytes
    """The envelope, decoded."""
    payload: bytes
    """What is inside ``<soap:Body>``, byte for byte."""


def fault(version: str, sender: bool, reason: str) -> tuple[int, str]:
    """A SOAP fault as servers write it: the status and the envelope."""
    ns = NAMESPACES[version]
    if version == "1.1":
        code = "soap:Client" if sender else "soap:Server"
        body = f"<soap:Fault><faultcode>{code}</faultcode><faultstring>{reason}</faultstring></soap:Fault>"
        status = 500
    else:
        code = "soap:Sender" if sender else "soap:Receiver"
        body = (f'<soap:Fault><soap:Code><soap:Value>{code}</soap:Value></soap:Code><soap:Reason>'
                f'<soap:Text xml:lang="en">{reason}</soap:Text></soap:Reason></soap:Fault>')  # fmt: skip
        status = 400 if sender else 500
    return (
        status,
        f'<?xml version="1.0"?><soap:Envelope xmlns:soap="{ns}"><soap:Body>{body}</soap:Body></soap:Envelope>',
    )


@dataclass
class SoapServer:
    """Accepts envelopes of one SOAP version; ``decide`` may answer a parsed one with a fault
    ``(sender, reason)``; ``basic`` requires HTTP Basic credentials (``user:password``)."""

    version: str = "1.1"
    action: str | None = None
    basic: str | None = None
    decide: Callable[[Envelope], tuple[bool, str] | None] | None = None
    received: list[Envelope] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    runner: web.AppRunner | None = None
    port: int = 0
    url: str = ""

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> SoapServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2, auto_decompress=False)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port, ssl_context=ssl_context)
        await site.start()
        self.port = self.runner.addresses[0][1]
        self.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{self.port}"
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    def _fault(self, sender: bool, reason: str) -> web.Response:
        self.faults.append(reason)
        status, text = fault(self.version, sender, reason)
        return web.Response(status=status, text=text, content_type=CONTENT_TYPES[self.version])

    async def _handle(self, request: web.Request) -> web.Response:
        if self.basic is not None:
            expected = "Basic " + base64.b64encode(self.basic.encode()).decode()
            if request.headers.get("Authorization") != expected:
                return web.Response(status=401, text="who are you?", headers={"WWW-Authenticate": 'Basic realm="soap"'})
        if request.method != "POST":
            return self._fault(True, f"{request.method} is not SOAP")
        wire = await request.read()
        envelope = wire
        if request.headers.get("Content-Transfer-Encoding") == "base64":
            envelope = base64.b64decode(envelope)
        if request.headers.get("Content-Encoding") == "gzip":
            envelope = gzip.decompress(envelope)
        if request.headers.get("Content-Type") != CONTENT_TYPES[self.version]:
            return self._fault(True, f"Content-Type {request.headers.get('Content-Type')} is not SOAP {self.version}")
        if self.action is not None and request.headers.get("SOAPAction") != self.action:
            return self._fault(True, f"SOAPAction {request.headers.get('SOAPAction')!r} is not {self.action!r}")
        try:
            root = ElementTree.fromstring(envelope)
        except ElementTree.ParseError as exc:
            return self._fault(True, f"not XML: {exc}")
        ns = NAMESPACES[self.version]
        if root.tag != f"{{{ns}}}Envelope" or [child.tag for child in root] != [f"{{{ns}}}Body"]:
            return self._fault(True, f"not a SOAP {self.version} envelope: {root.tag}")
        start = envelope.index(b"<soap:Body>") + len(b"<soap:Body>")
        payload = envelope[start : envelope.rindex(b"</soap:Body>")]
        received = Envelope(request.path_qs, CIMultiDict(request.headers), wire, envelope, payload)
        answer = self.decide(received) if self.decide is not None else None
        if answer is not None:
            return self._fault(*answer)
        self.received.append(received)
        ok = f'<soap:Envelope xmlns:soap="{ns}"><soap:Body><ok/></soap:Body></soap:Envelope>'
        return web.Response(text=ok, content_type=CONTENT_TYPES[self.version])


@pytest.fixture
async def start_server():
    """Start SOAP endpoints: ``await start_server(version="1.1", ssl_context=None, port=0, **settings)``."""

    def start(ssl_context: ssl.SSLContext | None = None, **settings) -> Awaitable[SoapServer]:
        return SoapServer(**settings).start(ssl_context)

    async with started_servers(start) as starting:
        yield starting
