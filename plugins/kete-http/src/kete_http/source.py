"""``[sources.<name>] kind = "http"``: a webhook receiver; see the README for settings.

Each POST carries one event or a JSON array of events, in any shape :mod:`kete_http.payloads`
recognises. A request is accepted whole or rejected whole: the answer is ``202`` only after
``intake.submit`` returned for all of its events, ``400`` (with the reason) when any of them is
not an event, ``503`` with ``Retry-After`` whenever accepting would wait (kete's spool or a slow
route's queue is full: :attr:`~kete_core.Intake.congested`) or kete is stopping, ``401`` for failed
authentication, ``413`` for too large a body or too many events and ``415`` for a content type
or encoding the source does not read. A request whose client hung up before its turn to be
submitted is not accepted: the sender will send it again.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import math
import zlib
from typing import Any

import orjson
from aiohttp import web

from kete_core import (
    ConfigError,
    ConfigErrors,
    Event,
    Intake,
    MalformedEvent,
    Rejection,
    Source,
    SourceError,
    server_ssl_context,
)
from kete_http.oauth import basic_authorization
from kete_http.payloads import normalise
from kete_http.settings import HttpSourceConfig

log = logging.getLogger("kete.http")

_RAW_SAMPLE = 200


def _set_ready(intake: Intake, ready: bool, reason: str | None = None) -> None:
    intake.set_ready(ready, reason)


class _Refusal(Exception):
    def __init__(self, status: int, reason: str, *, headers: dict[str, str] | None = None, raw: bytes = b"") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or {}
        self.raw = raw[:_RAW_SAMPLE]


class HttpSource(Source):
    """An aiohttp server that hands webhook events to kete; see the module documentation.

    :ivar port: the port it listens on, once :attr:`listening` is set.
    :ivar listening: set once the server accepts connections.
    """

    Config = HttpSourceConfig
    config: HttpSourceConfig

    def __init__(self, name: str, config: HttpSourceConfig) -> None:
        super().__init__(name, config)
        path = f"sources.{name}"
        problems: list[tuple[str, str]] = []
        if (config.basic_username is None) != (config.basic_password is None):
            problems.append(("basic-password", "basic-username and basic-password go together"))
        if not config.path.startswith("/"):
            problems.append(("path", "must start with '/'"))
        errors = [ConfigError(message, path=f"{path}.{setting}") for setting, message in problems]
        try:
            self._ssl = server_ssl_context(config.tls, f"{path}.tls")
        except ConfigErrors as exc:
            errors += exc.errors
        except ConfigError as exc:
            errors.append(exc)
        if errors:
            raise ConfigErrors(errors)
        self._types = {media.lower() for media in config.content_types}
        self._basic = None
        if config.basic_username is not None and config.basic_password is not None:
            self._basic = basic_authorization(config.basic_username, config.basic_password.get_secret_value())
        self._bearer = f"Bearer {config.bearer_token.get_secret_value()}" if config.bearer_token else None
        self._retry_after = str(max(1, math.ceil(config.retry_after)))
        self._intake: Intake | None = None
        self._submitting: set[asyncio.Future[Any]] = set()
        self._submit_lock = asyncio.Lock()
        self.port: int | None = None
        self.listening = asyncio.Event()

    async def run(self, intake: Intake) -> None:
        self._intake = intake
        app = web.Application(client_max_size=self.config.max_body_size)
        app.router.add_post(self.config.path, self._handle)
        runner = web.AppRunner(
            app, access_log=None, auto_decompress=False, shutdown_timeout=self.config.shutdown_timeout
        )
        await runner.setup()
        _set_ready(intake, False, "not listening yet")
        try:
            site = web.TCPSite(runner, self.config.host, self.config.port, ssl_context=self._ssl, backlog=1024)
            try:
                await site.start()
            except OSError as exc:
                raise SourceError(
                    f"cannot listen on {self.config.host}:{self.config.port}: {exc.strerror or exc}",
                    path=f"sources.{self.name}",
                ) from exc
            self.port = runner.addresses[0][1]
            _set_ready(intake, True)
            scheme = "https" if self._ssl is not None else "http"
            log.info(
                "source '%s': listening on %s://%s:%d%s",
                self.name, scheme, self.config.host, self.port, self.config.path,
            )  # fmt: skip
            self.listening.set()
            await intake.stopping.wait()
        finally:
            # Stops listening, lets requests in flight finish (their events are submitted), then closes.
            await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        intake = self._intake
        assert intake is not None
        try:
            if intake.stopping.is_set():
                raise _Refusal(503, "kete is stopping", headers={"Retry-After": self._retry_after})
            self._authenticate(request)
            raw = await self._read(request)
            events = self._events(self._decode(request, raw))
            if not events:
                return web.json_response({"accepted": 0}, status=202)
            self._check_room(intake)
            # One submission at a time, so that the room check above cannot pass for many requests
            # that then all wait inside submit: the ones after a full spool get their 503 at once.
            async with self._submit_lock:
                self._check_room(intake)
                if request.transport is None or request.transport.is_closing():
                    # The client gave up: accepting now would keep events it will send again.
                    return web.Response(status=499)
                # congested is False and nothing is awaited before submit: it does not wait.
                submitting = asyncio.ensure_future(intake.submit(events))
                self._submitting.add(submitting)
                submitting.add_done_callback(self._submitting.discard)
                # Never cancel a submission half way: if this handler is cancelled, the events still go in.
                await asyncio.shield(submitting)
        except _Refusal as refusal:
            return self._refuse(request, refusal)
        return web.json_response({"accepted": len(events)}, status=202)

    def _check_room(self, intake: Intake) -> None:
        if intake.congested or intake.stopping.is_set():
            raise _Refusal(503, "kete is congested, try again later", headers={"Retry-After": self._retry_after})

    def _refuse(self, request: web.Request, refusal: _Refusal) -> web.Response:
        if refusal.status == 400 and self._intake is not None:
            where = f"{request.remote} {request.method} {request.path}"
            self._intake.reject(Rejection(self.name, where, refusal.reason, refusal.raw))
        elif refusal.status != 503:
            log.warning("source '%s': %s: HTTP %d: %s", self.name, request.remote, refusal.status, refusal.reason)
        return web.json_response({"error": refusal.reason}, status=refusal.status, headers=refusal.headers)

    def _authenticate(self, request: web.Request) -> None:
        given = request.headers.get("Authorization", "")
        for expected in (self._bearer, self._basic):
            if expected is not None and not hmac.compare_digest(
                given.encode("utf-8", "replace"), expected.encode("utf-8", "replace")
            ):
                scheme = "Bearer" if expected is self._bearer else 'Basic realm="kete"'
                raise _Refusal(401, "authentication failed", headers={"WWW-Authenticate": scheme})

    async def _read(self, request: web.Request) -> bytes:
        media = request.content_type.lower()
        if media not in self._types:
            raise _Refusal(415, f"content type {media!r} is not accepted (accepted: {', '.join(sorted(self._types))})")
        limit = self.config.max_body_size
        if request.content_length is not None and request.content_length > limit:
            raise _Refusal(413, f"the body has {request.content_length} bytes; the limit is {limit}")
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise _Refusal(413, f"the body is larger than the limit of {limit} bytes") from None
        signing = self.config.signing
        if signing is not None and not signing.verify(raw, request.headers.get(signing.header)):
            raise _Refusal(401, f"missing or wrong {signing.header} signature")
        return raw

    def _decode(self, request: web.Request, raw: bytes) -> Any:
        body = raw
        transfer = request.headers.get("Content-Transfer-Encoding", "").strip().lower()
        if transfer == "base64":
            try:
                body = base64.b64decode(body, validate=True)
            except binascii.Error as exc:
                raise self._malformed(f"the body is not valid base64: {exc}", raw) from None
        elif transfer not in ("", "binary", "8bit", "7bit", "identity"):
            raise _Refusal(415, f"content transfer encoding {transfer!r} is not supported")
        encoding = request.headers.get("Content-Encoding", "").strip().lower()
        if encoding in ("gzip", "x-gzip", "deflate"):
            body = self._inflate(body, encoding, raw)
        elif encoding not in ("", "identity"):
            raise _Refusal(415, f"content encoding {encoding!r} is not supported (use gzip or deflate)")
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise self._malformed(f"not JSON: {exc}", raw) from None

    def _inflate(self, body: bytes, encoding: str, raw: bytes) -> bytes:
        limit = self.config.max_body_size
        # gzip: wbits 16+; deflate: zlib-wrapped as HTTP says, or raw as some senders do.
        attempts = (16 + zlib.MAX_WBITS,) if encoding != "deflate" else (zlib.MAX_WBITS, -zlib.MAX_WBITS)
        failure: zlib.error | None = None
        for wbits in attempts:
            inflater = zlib.decompressobj(wbits)
            try:
                out = inflater.decompress(body, limit + 1)
            except zlib.error as exc:
                failure = exc
                continue
            if len(out) > limit or inflater.unconsumed_tail:
                raise _Refusal(413, f"the decompressed body is larger than the limit of {limit} bytes")
            if not inflater.eof:
                raise self._malformed(f"the {encoding} body is truncated", raw)
            return out
        raise self._malformed(f"the body is not valid {encoding}: {failure}", raw)

    def _events(self, document: Any) -> list[Event]:
        items = document if isinstance(document, list) else [document]
        if len(items) > self.config.max_events:
            raise _Refusal(413, f"{len(items)} events in one request; the limit is {self.config.max_events}")
        events = []
        names = self.config.realm_names
        for index, item in enumerate(items):
            try:
                events.append(normalise(item, names))
            except MalformedEvent as exc:
                where = f"event {index}: " if isinstance(document, list) else ""
                raise self._malformed(where + exc.message, orjson.dumps(item)) from None
        return events

    @staticmethod
    def _malformed(reason: str, raw: bytes) -> _Refusal:
        return _Refusal(400, reason, raw=raw)
