"""``destination.kind = "gcp-pubsub"``: events published to a Pub/Sub topic over the REST API; see the README.

As KETE's gcp-pubsub destination: ``POST <url>/v1/projects/<project>/topics/<topic>:publish``, each
message's ``data`` the serialized event (no content encoding), its attributes ``headers.*`` then KETE's
``eventkind``, ``eventtype`` and ``contenttype``, its ``orderingKey`` the rendered ``ordering-key`` when
set; a token from the configured credentials, none against an emulator. At start the topic is read
(``topics.get``), or the project's topics listed when the topic is a template; 403 counts as reachable.

Unlike KETE (one request per event) a batch goes in one request per topic (up to ``max-batch-messages``
and ``max-batch-bytes``), and every message must come back with an id. The service refuses a request as
a whole (400): kete then sends its messages one by one, so only the refused one fails. 404 (no such
topic), 401 and 403 fail the events permanently; no answer, 429 and 5xx are :class:`ConnectionLost`,
and a batch none of which got through for that reason makes the route wait (:class:`Unavailable`).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from kete_core import (
    ConfigError,
    ConfigErrors,
    ConnectionLost,
    DeliveryResults,
    KeteError,
    Message,
    PermanentError,
    RenderError,
    Sink,
    SinkContext,
    TokenError,
    Unavailable,
    checked_client_ssl,
    connection_outcome,
    redact,
    user_agent,
)
from kete_gcp.credentials import AccessTokens
from kete_gcp.settings import PUBSUB_SCOPE, PubSubSinkConfig

log = logging.getLogger("kete.gcp")

# A topic id: letters, digits and - _ . ~ + %, starting with a letter (Pub/Sub's resource names).
_TOPIC = re.compile(r"^[A-Za-z][A-Za-z0-9._~+%-]{2,254}$")
_TOPIC_CHARACTERS = re.compile(r"^[A-Za-z0-9._~+%-]*$")
_HINT = "check authentication-type, the service-account key and its roles (roles/pubsub.publisher)"
# Bytes of JSON around each message and around a request, on top of the Base64 data.
_ENVELOPE = 64

_USER_AGENT = user_agent("kete-gcp")


def _topic_value(value: str) -> str:
    if not _TOPIC_CHARACTERS.match(value):
        raise ValueError("a topic id holds only letters, digits and '-', '_', '.', '~', '+', '%'")
    return value


class _Refused(PermanentError):
    """The service refused a whole request as invalid (400): one of its messages, or all of them."""


def _detail(body: bytes) -> str:
    """The ``error.message`` of a Google API error answer, else the start of the body."""
    try:
        error = orjson.loads(body)["error"]
        return f"{error.get('status', '')}: {error['message']}".strip(": ")
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        return body[:300].decode(errors="replace").strip()


class PubSubSink(Sink):
    """Publishes each batch with one request per topic; see the module documentation."""

    Config = PubSubSinkConfig
    config: PubSubSinkConfig

    def __init__(self, config: PubSubSinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        url = config.url.strip().rstrip("/")
        self._ssl = checked_client_ssl(config.tls, context.path, config.problems(), secure=url.startswith("https:"))
        topic = config.topic.strip()
        self._topic = context.address("topic", topic, _topic_value)
        errors: list[ConfigError] = []
        if not self._topic.variables and not _TOPIC.match(topic):
            text = "not a Pub/Sub topic id (3-255 letters, digits, - _ . ~ + %, starting with a letter)"
            errors.append(ConfigError(text, path=f"{context.path}.topic"))
        try:
            self._tokens = AccessTokens.of(config, PUBSUB_SCOPE, context.path)
        except ConfigError as exc:
            errors.append(exc)
        if errors:
            raise ConfigErrors(errors)
        key = config.ordering_key.strip()
        self._ordering = context.template("ordering-key", key) if key else None
        self._project = config.project.strip()
        self._root = f"{url}/v1/projects/{quote(self._project, safe='')}"
        self._attributes = config.attributes()
        self._timeout = aiohttp.ClientTimeout(total=config.timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    # ------------------------------------------------------------------ session

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=16, ssl=self._ssl)
            self._session = aiohttp.ClientSession(connector=connector, headers={"User-Agent": _USER_AGENT})
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _headers(self, session: aiohttp.ClientSession) -> tuple[dict[str, str], str | None]:
        if self._tokens is None:
            return {}, None
        token = await self._tokens.token(session)
        return {"Authorization": f"Bearer {token}"}, token

    async def start(self) -> None:
        try:
            await self._probe(self._open())
        except BaseException:
            await self.close()
            raise

    async def _probe(self, session: aiohttp.ClientSession) -> None:
        if self._topic.variables:
            shown, url = f"projects/{self._project}/topics", f"{self._root}/topics?pageSize=1"
        else:
            shown = f"projects/{self._project}/topics/{self.config.topic.strip()}"
            url = f"{self._root}/topics/{quote(self.config.topic.strip(), safe='')}"
        try:
            headers, _ = await self._headers(session)
            async with session.get(url, headers=headers, timeout=self._timeout) as response:
                status, body = response.status, await response.read()
        except TokenError as exc:
            raise Unavailable(str(exc)) from None
        except TimeoutError:
            raise Unavailable(f"{redact(url)}: no answer within {self.config.timeout_seconds:g}s") from None
        except aiohttp.ClientError as exc:
            raise Unavailable(redact(f"{url}: {type(exc).__name__}: {exc}")) from None
        # 403: connected, without the right to read the topic; publishing may still be allowed (as KETE).
        if status < 300 or status == 403:
            return
        message = redact(f"{shown}: HTTP {status}: {_detail(body)}")
        if status == 401:
            raise PermanentError(f"the service refused kete's credentials: {message} ({_HINT})")
        if status in (408, 429) or status >= 500:
            raise Unavailable(message)
        raise PermanentError(message)

    # ------------------------------------------------------------------ sending

    def _entry(self, message: Message, key: str | None) -> dict[str, Any]:
        event = message.event
        attributes = self._attributes | {
            "eventkind": event.kind,
            "eventtype": event.event_type,
            "contenttype": message.content_type,
        }
        entry: dict[str, Any] = {"data": base64.b64encode(message.payload).decode("ascii"), "attributes": attributes}
        if key is not None:
            entry["orderingKey"] = key
        return entry

    def _requests(self, topic: str, indices: list[int], sizes: list[int]) -> list[tuple[str, list[int]]]:
        chunks: list[tuple[str, list[int]]] = []
        current: list[int] = []
        size = 0
        for index in indices:
            if current and (
                len(current) >= self.config.max_batch_messages or size + sizes[index] > self.config.max_batch_bytes
            ):
                chunks.append((topic, current))
                current, size = [], 0
            current.append(index)
            size += sizes[index]
        if current:
            chunks.append((topic, current))
        return chunks

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        session = self._open()
        results: list[BaseException | None] = [None] * len(messages)
        events = [message.event for message in messages]
        topics = self._topic.render_all(events)
        keys: list[str | RenderError | None] = (
            list(self._ordering.render_all(events)) if self._ordering is not None else [None] * len(messages)
        )
        entries: list[dict[str, Any]] = []
        sizes: list[int] = []
        groups: dict[str, list[int]] = {}
        for index, (message, topic, key) in enumerate(zip(messages, topics, keys, strict=True)):
            entry = self._entry(message, None if isinstance(key, RenderError) else key)
            entries.append(entry)
            sizes.append(len(entry["data"]) + len(orjson.dumps(entry["attributes"])) + _ENVELOPE)
            if isinstance(topic, RenderError) or isinstance(key, RenderError):
                results[index] = topic if isinstance(topic, RenderError) else key
            elif not _TOPIC.match(topic):
                results[index] = PermanentError(f"{topic!r} is not a Pub/Sub topic id")
            else:
                groups.setdefault(topic, []).append(index)
        requests = [chunk for topic, indices in groups.items() for chunk in self._requests(topic, indices, sizes)]
        await asyncio.gather(*(self._publish(session, topic, indices, entries, results) for topic, indices in requests))
        return connection_outcome(results)

    async def _publish(
        self,
        session: aiohttp.ClientSession,
        topic: str,
        indices: list[int],
        entries: list[dict[str, Any]],
        results: list[BaseException | None],
    ) -> None:
        try:
            error = await self._post(session, topic, [entries[index] for index in indices])
        except Exception as exc:  # a bug must fail this request's events only, not the others in flight
            log.exception("gcp-pubsub sink: unexpected failure")
            error = exc
        if isinstance(error, _Refused) and len(indices) > 1:
            # The service refuses the whole request for one bad message: find it by sending them one by one.
            await asyncio.gather(*(self._publish(session, topic, [index], entries, results) for index in indices))
            return
        for index in indices:
            results[index] = error

    async def _post(self, session: aiohttp.ClientSession, topic: str, batch: list[dict[str, Any]]) -> Exception | None:
        url = f"{self._root}/topics/{quote(topic, safe='')}:publish"
        shown = f"projects/{self._project}/topics/{topic}"
        body = orjson.dumps({"messages": batch})
        for attempt in (1, 2):
            try:
                headers, token = await self._headers(session)
            except TokenError as exc:
                return ConnectionLost(str(exc))
            except PermanentError as exc:
                return exc
            headers["Content-Type"] = "application/json"
            try:
                async with session.post(url, data=body, headers=headers, timeout=self._timeout) as response:
                    status, answer = response.status, await response.read()
            except TimeoutError:
                return ConnectionLost(f"{redact(url)}: no answer within {self.config.timeout_seconds:g}s")
            except aiohttp.ClientError as exc:
                return ConnectionLost(redact(f"{url}: {type(exc).__name__}: {exc}"))
            if status == 401 and token is not None and self._tokens is not None and attempt == 1:
                self._tokens.invalidate(token)  # expired or revoked: once more with a fresh one
                continue
            break
        if 200 <= status < 300:
            try:
                ids = orjson.loads(answer).get("messageIds") or []
            except (orjson.JSONDecodeError, AttributeError):
                ids = []
            if len(ids) != len(batch):
                return KeteError(f"{shown}: publish returned {len(ids)} message ids for {len(batch)} messages")
            return None
        message = redact(f"{shown}: HTTP {status}: {_detail(answer)}")
        if status in (401, 403):
            return PermanentError(f"the service refused kete's credentials: {message} ({_HINT})")
        if status == 400:
            return _Refused(message)
        if status in (408, 429) or status >= 500:
            return ConnectionLost(message)
        return PermanentError(message)
