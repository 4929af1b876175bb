"""``[sources.<name>] kind = "http"``: a webhook receiver; see the README for settings.

Each POST carries one event or a JSON array of events, in any shape :mod:`kete_http.payloads`
recognises. A request is accepted whole or rejected whole: the answer is ``202`` only after
``intake.submit`` returned for all of its events, ``400`` (with the reason) when any of them is
not an event, ``503`` with ``Retry-After`` whenever accepting would wait (kete's spool or a slow
route's queue is full: :attr:`~kete_core.Intake.congested`) or kete is stopping, ``401`` for failed
authentication, ``413`` for too large a body or too many events and ``415`` for a content type
or encoding the source does not read, ``408`` for a body slower than ``body-timeout``. A request
whose client hung up before its turn to be submitted is not accepted: the sender will send it again.
A sender's own events (p2-inc application and system events) are answered ``202``, recorded and
not routed. On stop the port stays open for ``drain-time``, answering ``503``; with ``reuse-port``
a successor can take it over first (:mod:`kete_http.handover`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import math
import sys
import time
import zlib
from typing import Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from kete_core import (
    ConfigError,
    ConfigErrors,
    Event,
    Intake,
    MalformedEvent,
    Rejection,
    Source,
    SourceError,
    basic_authorization,
    server_ssl_context,
)
from kete_http.handover import reuse_port_socket
from kete_http.payloads import NotKeycloakEvent, normalise
from kete_http.settings import HttpSourceConfig

log = logging.getLogger("kete.http")

_RAW_SAMPLE = 200
# A malformed request or a client hanging up is logged once a minute at most (with a count).
_QUIET_FOR = 60.0


def _set_ready(intake: Intake, ready: bool, reason: str | None = None) -> None:
    intake.set_ready(ready, reason)


class _Refusal(Exception):
    def __init__(self, status: int, reason: str, *, headers: dict[str, str] | None = None, raw: bytes = b"") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or {}
        self.raw = raw[:_RAW_SAMPLE]


class _ClientGone(Exception):
    """The client hung up before its request was read: nobody is left to answer."""


class _ServerLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server log for one source. What a stranger's request can cause (a malformed
    request, a huge header, a client hanging up) is one line, not a traceback, and at most one line
    a minute; anything else (a bug) keeps its traceback."""

    def __init__(self, source: str) -> None:
        super().__init__(log, {})
        self.source = source
        self._quiet_until = 0.0
        self._suppressed = 0

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        error = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1]
        if not isinstance(error, HttpProcessingError | ConnectionError):
            self.logger.error(msg, *args, exc_info=exc_info, **kwargs)
            return
        text = (getattr(error, "message", "") or str(error) or type(error).__name__).strip().splitlines()[0]
        # aiohttp's message is "Error handling request from <peer>".
        what = f"a malformed request from {args[0]}" if args else str(msg)
        self.client_problem(f"{what}: {text[:200]}")

    def client_problem(self, what: str) -> None:
        """Log *what* a client did wrong, unless such a line was logged in the last minute."""
        now = time.monotonic()
        if now < self._quiet_until:
            self._suppressed += 1
            return
        more = f" ({self._suppressed} more such requests since the last line)" if self._suppressed else ""
        self._quiet_until, self._suppressed = now + _QUIET_FOR, 0
        self.logger.warning("source '%s': %s%s", self.source, what, more)


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
        self._log = _ServerLog(name)

    async def run(self, intake: Intake) -> None:
        self._intake = intake
        app = web.Application(client_max_size=self.config.max_body_size)
        app.router.add_post(self.config.path, self._handle)
        runner = web.AppRunner(
            app,
            access_log=None,
            auto_decompress=False,
            shutdown_timeout=self.config.shutdown_timeout,
            # aiohttp's keep-alive timer runs from a connection's opening (or its previous answer)
            # until a request's headers are complete: it bounds idle and slow-header clients alike.
            keepalive_timeout=self.config.idle_timeout,
            logger=self._log,
        )
        await runner.setup()
        _set_ready(intake, False, "not listening yet")
        try:
            try:
                site: web.BaseSite
                if self.config.reuse_port:
                    sock = reuse_port_socket(self.config.host, self.config.port)
                    site = web.SockSite(runner, sock, ssl_context=self._ssl)
                else:
                    site = web.TCPSite(runner, self.config.host, self.config.port, ssl_context=self._ssl, backlog=1024)
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
            await self._drain(intake)
        finally:
            # Stops listening, lets requests in flight finish (their events are submitted), then closes.
            await runner.cleanup()

    async def _drain(self, intake: Intake) -> None:
        """Keep listening for ``drain-time`` after a stop, answering 503 + Retry-After (and closing
        each connection): a sender that retries then reaches a successor (``reuse-port``, or another
        instance behind the load balancer), where a closed port would make p2-inc drop the event."""
        drain = self.config.drain_time
        if drain <= 0:
            return
        _set_ready(intake, False, "stopping: answering 503 until the listener closes")
        log.info(
            "source '%s': stopping: answering 503 with Retry-After for %g s before the listener closes",
            self.name, drain,
        )  # fmt: skip
        await asyncio.sleep(drain)

    async def _handle(self, request: web.Request) -> web.Response:
        intake = self._intake
        assert intake is not None
        try:
            if intake.stopping.is_set():
                raise _Refusal(503, "kete is stopping", headers={"Retry-After": self._retry_after})
            self._authenticate(request)
            raw = await self._read(request)
            events, ignored = self._events(self._decode(request, raw))
            if not events:
                return self._accepted(request, events, ignored)
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
        except _ClientGone:
            log.debug("source '%s': %s hung up before its request was read", self.name, request.remote)
            return web.Response(status=499)
        return self._accepted(request, events, ignored)

    def _accepted(self, request: web.Request, events: list[Event], ignored: list[Rejection]) -> web.Response:
        """The 202 of an accepted request; its events that are not Keycloak's are recorded (``kete
        rejected``) and answered 2xx too: p2-inc retries any other answer for 15 minutes."""
        assert self._intake is not None
        for rejection in ignored:
            self._intake.reject(Rejection(self.name, f"{request.remote} {request.method} {request.path} "
                                          f"{rejection.where}".rstrip(), rejection.reason, rejection.raw))  # fmt: skip
        answer = {"accepted": len(events)} | ({"not-routed": len(ignored)} if ignored else {})
        return web.json_response(answer, status=202)

    def _check_room(self, intake: Intake) -> None:
        if intake.congested or intake.stopping.is_set():
            raise _Refusal(503, "kete is congested, try again later", headers={"Retry-After": self._retry_after})

    def _refuse(self, request: web.Request, refusal: _Refusal) -> web.Response:
        if refusal.status == 400 and self._intake is not None:
            where = f"{request.remote} {request.method} {request.path}"
            self._intake.reject(Rejection(self.name, where, refusal.reason, refusal.raw))
        elif refusal.status != 503:
            self._log.client_problem(f"{request.remote}: HTTP {refusal.status}: {refusal.reason}")
        response = web.json_response({"error": refusal.reason}, status=refusal.status, headers=refusal.headers)
        if self._intake is not None and self._intake.stopping.is_set():
            # The sender's next attempt opens a new connection, which may reach a successor.
            response.force_close()
        return response

    def _authenticate(self, request: web.Request) -> None:
        # The scheme is case-insensitive (RFC 9110 11.1), the credentials are not.
        scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
        for expected, challenge in ((self._bearer, "Bearer"), (self._basic, 'Basic realm="kete"')):
            if expected is None:
                continue
            wanted_scheme, _, wanted = expected.partition(" ")
            if scheme.lower() != wanted_scheme.lower() or not hmac.compare_digest(
                credentials.strip().encode("utf-8", "replace"), wanted.encode("utf-8", "replace")
            ):
                raise _Refusal(401, "authentication failed", headers={"WWW-Authenticate": challenge})

    async def _read(self, request: web.Request) -> bytes:
        media = request.content_type.lower()
        if media not in self._types:
            raise _Refusal(415, f"content type {media!r} is not accepted (accepted: {', '.join(sorted(self._types))})")
        limit = self.config.max_body_size
        if request.content_length is not None and request.content_length > limit:
            raise _Refusal(413, f"the body has {request.content_length} bytes; the limit is {limit}")
        try:
            async with asyncio.timeout(self.config.body_timeout):
                raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise _Refusal(413, f"the body is larger than the limit of {limit} bytes") from None
        except TimeoutError:
            raise _Refusal(
                408, f"the body did not arrive within body-timeout ({self.config.body_timeout:g} s)"
            ) from None
        except ConnectionError:
            raise _ClientGone from None
        except HttpProcessingError as exc:
            raise _Refusal(400, f"the body is not valid HTTP: {exc.message}") from None
        signing = self.config.signing
        if signing is not None and (problem := signing.problem(raw, request.headers)) is not None:
            raise _Refusal(401, problem)
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

    def _events(self, document: Any) -> tuple[list[Event], list[Rejection]]:
        """The request's events, and its items that are a sender's own events (not routed)."""
        items = document if isinstance(document, list) else [document]
        if len(items) > self.config.max_events:
            raise _Refusal(413, f"{len(items)} events in one request; the limit is {self.config.max_events}")
        events = []
        ignored = []
        names = self.config.realm_names
        for index, item in enumerate(items):
            where = f"event {index}" if isinstance(document, list) else ""
            try:
                events.append(normalise(item, names))
            except NotKeycloakEvent as exc:
                ignored.append(Rejection(self.name, where, exc.reason, orjson.dumps(item)[:_RAW_SAMPLE]))
            except MalformedEvent as exc:
                raise self._malformed(f"{where}: {exc.message}" if where else exc.message, orjson.dumps(item)) from None
        return events, ignored

    @staticmethod
    def _malformed(reason: str, raw: bytes) -> _Refusal:
        return _Refusal(400, reason, raw=raw)
