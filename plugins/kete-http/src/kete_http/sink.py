"""``destination.kind = "http"``: one request per event to a templated URL; see the README for settings.

Requests of one batch go out concurrently (``max-concurrency``) over one connection pool per
route. Each request is retried inside :meth:`HttpSink.send` on connection errors, timeouts, 408,
429 and 5xx with exponential backoff and jitter, honouring ``Retry-After``; any other non-2xx
answer is a :class:`~kete_core.PermanentError` for that event. What is still failing when the
sink's own retries are spent is returned to the route, whose ``retry.*`` settings take over.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import re
import time
from collections.abc import Sequence

import aiohttp
from yarl import URL

from kete_core import (
    ConfigError,
    DeliveryResults,
    Message,
    PermanentError,
    RenderError,
    Sink,
    SinkContext,
    Template,
    TokenError,
    TokenProvider,
    Unavailable,
    basic_authorization,
    checked_client_ssl,
    redact,
    url_template,
    url_value,
    user_agent,
)
from kete_http.settings import HttpSinkConfig

log = logging.getLogger("kete.http")

_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")
_CACHE_LIMIT = 10_000
# KETE drops custom headers named like its message headers, with and without the http ``x-`` form.
_KETE_HEADERS = {"x-eventkind", "x-eventtype", "content-type", "eventkind", "eventtype", "contenttype"}
# The start of a receiver's error answer kept for logs and dead letters.
_ERROR_DETAIL = 512

_USER_AGENT = user_agent("kete-http")


class HttpError(Exception):
    """A delivery attempt that failed in a way a later attempt may fix (connection, timeout, 408, 429, 5xx).

    :ivar status: the HTTP status, or None when no answer came.
    :ivar retry_after: seconds the server asked to wait, if it said so.
    """

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    @property
    def destination_down(self) -> bool:
        """The destination as a whole is unreachable or asks for a pause, not just this event."""
        return self.status is None or self.status in (429, 503)


class _Refused(Exception):
    """A 401 to an OAuth bearer token: fetch a fresh token and try once more."""


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


async def _error_detail(response: aiohttp.ClientResponse) -> str:
    """The start of an error answer's body, at most :data:`_ERROR_DETAIL` bytes, marked when cut."""
    data = b""
    while len(data) <= _ERROR_DETAIL:
        chunk = await response.content.read(_ERROR_DETAIL + 1 - len(data))
        if not chunk:
            break
        data += chunk
    detail = data[:_ERROR_DETAIL].decode(errors="replace").strip()
    return detail + f" [... cut at {_ERROR_DETAIL} bytes]" if len(data) > _ERROR_DETAIL else detail


class _Group:
    """The events of one send that go to one rendered URL."""

    __slots__ = ("down", "url")

    def __init__(self, url: URL) -> None:
        self.url = url
        self.down: HttpError | None = None


class HttpSink(Sink):
    """Sends each message's payload in its own request; see the module documentation."""

    Config = HttpSinkConfig
    config: HttpSinkConfig

    def __init__(self, config: HttpSinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        target = config.target()
        secure = not target.lower().startswith("http://")
        self._ssl = checked_client_ssl(config.tls, context.path, config.problems(), secure=secure)
        setting = "url" if config.url else "host"
        try:
            encoded = url_template(target)
        except ValueError as exc:
            raise ConfigError(f"not a URL: {redact(str(exc))}", path=f"{context.path}.{setting}") from None
        self.url = context.address(setting, encoded, url_value)
        self._urls: dict[str, URL | PermanentError] = {}
        self._method = config.method
        self._timeout = aiohttp.ClientTimeout(total=config.timeout_seconds)
        self._encoding = config.encoding
        self._static, self._templates = self._headers(context)
        self._oauth = TokenProvider(config.oauth) if config.oauth_active else None
        self._session: aiohttp.ClientSession | None = None

    def frame(self, payload: bytes) -> bytes:
        """The request body for a serialized event, before ``content-encoding``: the payload itself. A
        sink built on this one overrides it to wrap the payload (kete-soap's envelope)."""
        return payload

    def content_type(self, message: Message) -> str:
        """The ``Content-Type`` of *message*'s request: the serializer's."""
        return message.content_type

    def protocol_headers(self) -> dict[str, str]:
        """Headers the protocol adds to every request (kete-soap's ``SOAPAction``); custom headers of
        the same names are not sent."""
        return {}

    def _headers(self, context: SinkContext) -> tuple[dict[str, str], list[tuple[str, Template]]]:
        config = self.config
        fixed = self._encoding.headers | self.protocol_headers()
        auth = config.authentication_type
        if auth == "basic":
            password = config.basic_password.get_secret_value() if config.basic_password else ""
            fixed["Authorization"] = basic_authorization(config.basic_username or "", password)
        elif auth == "bearer" and config.bearer_token is not None:
            fixed["Authorization"] = f"Bearer {config.bearer_token.get_secret_value()}"
        elif auth == "api-key" and config.api_key_value is not None:
            fixed["Api-Key"] = config.api_key_value.get_secret_value()
        elif auth == "x-api-key" and config.x_api_key_value is not None:
            fixed["X-API-Key"] = config.x_api_key_value.get_secret_value()
        reserved = {name.lower() for name in fixed} | _KETE_HEADERS
        if self.config.oauth_active:
            reserved.add("authorization")
        if config.signing is not None:
            reserved.add(config.signing.header.lower())
            if config.signing.timestamp_header is not None:
                reserved.add(config.signing.timestamp_header.lower())
        if config.event_id_header:
            reserved.add(config.event_id_header.lower())
        static: dict[str, str] = {}
        templates: list[tuple[str, Template]] = []
        for name, value in config.headers.items():
            value = value.strip()
            if name.lower() in reserved or not value:
                continue  # as KETE: its message headers win, blank values are not sent
            template = context.template(f"headers.{name}", value)
            if template.variables:
                templates.append((name, template))
            elif _UNSAFE.search(value):
                raise ConfigError(
                    "a header value may not contain control characters", path=f"{context.path}.headers.{name}"
                )
            else:
                static[name] = value
        return static | fixed, templates

    async def start(self) -> None:
        self._open()

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.config.max_concurrency + 1, ssl=self._ssl)
            self._session = aiohttp.ClientSession(connector=connector, headers={"User-Agent": _USER_AGENT})
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        session = self._open()
        results: list[BaseException | None] = [None] * len(messages)
        groups: dict[str | RenderError, _Group | PermanentError] = {}
        jobs: list[tuple[int, _Group]] = []
        for index, rendered in enumerate(self.url.render_all([message.event for message in messages])):
            group = groups.get(rendered)
            if group is None:
                url = rendered if isinstance(rendered, RenderError) else self._check(rendered)
                group = groups[rendered] = url if isinstance(url, PermanentError) else _Group(url)
            if isinstance(group, PermanentError):
                results[index] = group
            else:
                jobs.append((index, group))
        pending = iter(jobs)

        async def worker() -> None:
            for index, group in pending:
                results[index] = await self._deliver(session, group, messages[index])

        count = min(self.config.max_concurrency, len(jobs))
        if count == 1:
            await worker()
        elif count:
            await asyncio.gather(*(worker() for _ in range(count)))
        if not any(results):
            return None
        if all(isinstance(error, HttpError) and error.destination_down for error in results):
            # Nothing got through and every destination is unreachable or asks for a pause: kete
            # then waits for it without spending the events' attempts, and the spool keeps them.
            first = results[0]
            assert isinstance(first, HttpError)
            raise Unavailable(str(first), retry_after=first.retry_after) from first
        return results

    def _check(self, rendered: str) -> URL | PermanentError:
        known = self._urls.get(rendered)
        if known is not None:
            return known
        problem = None
        url: URL | PermanentError
        try:
            parsed = URL(rendered, encoded=True)
            if parsed.scheme not in ("http", "https") or not parsed.raw_host:
                problem = f"rendered URL {redact(rendered)!r} is not an absolute http(s) URL"
            elif "%" in parsed.raw_host:
                problem = f"rendered URL {redact(rendered)!r}: a value in the host name is not a host name"
        except ValueError as exc:
            problem = f"rendered URL {redact(rendered)!r} is not a URL: {redact(str(exc))}"
        url = PermanentError(problem) if problem else parsed
        if len(self._urls) >= _CACHE_LIMIT:
            self._urls.clear()
        self._urls[rendered] = url
        return url

    def _prepare(self, message: Message) -> tuple[bytes, dict[str, str]] | PermanentError:
        config = self.config
        event = message.event
        body = self._encoding.encode(self.frame(message.payload))
        headers = self._static.copy()
        for name, template in self._templates:
            value = template.render(event)
            if isinstance(value, RenderError) or not value.strip():
                continue  # a header with no value for this event is not sent, as a blank one
            if _UNSAFE.search(value):
                return PermanentError(f"{event!r}: header {name} would contain control characters")
            headers[name] = value
        if _UNSAFE.search(event.event_type):
            return PermanentError(f"{event!r}: the event type contains control characters")
        headers["x-eventkind"] = event.kind
        headers["x-eventtype"] = event.event_type
        headers["Content-Type"] = self.content_type(message)
        if config.event_id_header and event.id:
            if _UNSAFE.search(event.id):
                return PermanentError(f"{event!r}: the event id contains control characters")
            headers[config.event_id_header] = event.id
        if config.signing is not None:
            headers.update(config.signing.headers(body))
        return body, headers

    async def _deliver(self, session: aiohttp.ClientSession, group: _Group, message: Message) -> BaseException | None:
        try:
            prepared = self._prepare(message)
            if isinstance(prepared, PermanentError):
                return prepared
            body, headers = prepared
            attempt = 0
            refreshed = False
            while group.down is None:
                attempt += 1
                error = await self._attempt(session, group.url, body, headers)
                if error is None:
                    return None
                if isinstance(error, _Refused):
                    if refreshed:
                        return PermanentError(f"{error} (also with a freshly fetched OAuth token)")
                    refreshed = True
                    attempt -= 1
                    continue
                if not isinstance(error, HttpError):
                    return error
                pause = min(self.config.retry_max_backoff, self.config.retry_initial_backoff * 2 ** (attempt - 1))
                pause *= random.uniform(0.5, 1.0)
                if error.retry_after is not None:
                    pause = max(pause, error.retry_after)
                if attempt >= self.config.retry_attempts or pause > self.config.retry_max_backoff:
                    if error.destination_down and group.down is None:
                        # Spare the rest of this batch's requests to a destination that is down or
                        # asks for a pause; the route retries them later.
                        group.down = error
                    return error
                await asyncio.sleep(pause)
            return group.down
        except Exception as exc:  # a bug must fail this event only, not the other requests in flight
            log.exception("http sink: unexpected failure")
            return exc

    async def _attempt(
        self, session: aiohttp.ClientSession, url: URL, body: bytes, headers: dict[str, str]
    ) -> Exception | None:
        token = None
        if self._oauth is not None:
            try:
                token = await self._oauth.token(session)
            except TokenError as exc:
                return HttpError(str(exc))
            except PermanentError as exc:
                return exc
            headers = headers | {"Authorization": f"Bearer {token}"}
        try:
            async with session.request(
                self._method, url, data=body, headers=headers, timeout=self._timeout, allow_redirects=False
            ) as response:
                status = response.status
                if 200 <= status < 300:
                    await response.read()
                    return None
                detail = await _error_detail(response)
                retry_after = _retry_after(response.headers.get("Retry-After"))
        except TimeoutError:
            return HttpError(f"{self._method} {redact(str(url))}: no answer within {self.config.timeout_seconds:g}s")
        except aiohttp.ClientError as exc:
            return HttpError(redact(f"{self._method} {url}: {type(exc).__name__}: {exc}"))
        message = f"{self._method} {redact(str(url))}: HTTP {status}" + (f": {detail}" if detail else "")
        if status == 401 and token is not None and self._oauth is not None:
            self._oauth.invalidate(token)
            return _Refused(message)
        return self.refusal(status, detail, message, retry_after)

    def refusal(self, status: int, detail: str, message: str, retry_after: float | None) -> Exception:
        """What a non-2xx answer means for its event: an :class:`HttpError` (retried: 408, 429, 5xx) or a
        :class:`~kete_core.PermanentError`. *detail* is the start of the answer's body, *message* the text
        for logs and dead letters. A sink built on this one overrides it to read its protocol's errors."""
        if status in (408, 429) or status >= 500:
            return HttpError(message, status=status, retry_after=retry_after)
        return PermanentError(message)
