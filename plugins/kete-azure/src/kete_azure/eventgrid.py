"""``destination.kind = "azure-eventgrid"``: each batch is one publish of Event Grid schema events
(``subject`` defaulting to the event's type, ``eventType`` ``KeycloakEvent``, ``dataVersion`` ``1.0``,
both templates) with the vendor's asynchronous SDK (``azure-eventgrid``), signed with the topic's
access key (``aeg-sas-key``) or, with ``authentication-type`` ``managed-identity`` or
``default-azure-credential``, carrying a Microsoft Entra token for ``https://eventgrid.azure.net``
(fetched once, reused until shortly before it expires, by the SDK); see the README.

``data`` is the payload: a JSON payload (not encoded) as its JSON value, as KETE's SDK call embeds it;
any other payload as text (after ``content-encoding``/``content-transfer-encoding``; a payload that
is not UTF-8 text fails alone, naming ``content-transfer-encoding``). Event Grid takes or refuses a
publish as a whole: refused credentials (401/403) or an endpoint out of reach make the batch raise
:class:`~kete_core.Unavailable`; a publish refused for its content (400, 413) fails each event of it
permanently; 408/429/5xx fail them for a retry. No token (the identity endpoint refuses or is out of
reach) is reported at start and makes the batch raise :class:`~kete_core.Unavailable`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
from azure.eventgrid import EventGridEvent
from azure.eventgrid.aio import EventGridPublisherClient

from kete_azure.credentials import KeteTokenCredential, TokenUnavailable, token_credential
from kete_azure.settings import EventGridSinkConfig
from kete_azure.transport import SDK_LOG, aiohttp_transport
from kete_core import (
    ConnectionLost,
    DeliveryResults,
    Message,
    PermanentError,
    RenderError,
    Sink,
    SinkContext,
    checked_client_ssl,
    connection_outcome,
    redact,
)

log = logging.getLogger("kete.azure")

PUBLISH_BYTES = 1024 * 1024
"""Event Grid's limit on one publish; a batch is split into publishes below it."""
SCOPE = "https://eventgrid.azure.net/.default"
"""The token scope of Event Grid's data plane (the SDK's)."""
# Room for an event's envelope (id, subject, eventType, eventTime, dataVersion) besides its data.
_ENVELOPE_BYTES = 512


class EventGridSink(Sink):
    """Publishes each batch as Event Grid events; see the module documentation."""

    Config = EventGridSinkConfig
    config: EventGridSinkConfig

    def __init__(self, config: EventGridSinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        secure = config.endpoint.strip().lower().startswith("https://")
        self._ssl = checked_client_ssl(config.tls, context.path, config.problems(), secure=secure)
        subject = (config.subject or "").strip()
        self.subject = context.address("subject", subject) if subject else None
        self.event_type = context.address("event-type", config.event_type.strip())
        self._endpoint = config.endpoint.strip()
        self._shown = redact(self._endpoint)
        self._client: EventGridPublisherClient | None = None
        self._token: KeteTokenCredential | None = None
        self._hint = f"check {config.credentials_hint('access-key')}"

    def _credential(self) -> AzureKeyCredential | KeteTokenCredential:
        if self.config.token_authentication:
            if self._token is None:
                self._token = token_credential(self.config, self.config.timeout_seconds)
            return self._token
        return AzureKeyCredential(self.config.access_key.get_secret_value().strip() if self.config.access_key else "")

    def _publisher(self) -> EventGridPublisherClient:
        if self._client is None:
            timeout = self.config.timeout_seconds
            self._client = EventGridPublisherClient(
                self._endpoint,
                self._credential(),
                transport=aiohttp_transport(self._ssl),
                logger=SDK_LOG,
                retry_total=0,
                connection_timeout=timeout,
                read_timeout=timeout,
            )
        return self._client

    async def start(self) -> None:
        """With token authentication, gets the first token (the SDK reuses it): an identity that gives
        none is reported here."""
        if self.config.token_authentication:
            try:
                await self._credential().get_token(SCOPE)
            except TokenUnavailable as exc:
                await self.close()  # kete may never call close() on a sink that did not start
                raise ConnectionLost(redact(f"{self._shown}: {exc.message}")) from None

    async def close(self) -> None:
        client, self._client = self._client, None
        token, self._token = self._token, None
        if client is not None:
            await client.close()
        if token is not None:
            await token.close()

    def _data(self, message: Message) -> Any:
        encoding = self.config.encoding
        if encoding.identity and "json" in message.content_type:
            return orjson.loads(message.payload)
        return encoding.encode(message.payload).decode()

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        results: list[BaseException | None] = [None] * len(messages)
        events = [message.event for message in messages]
        types = self.event_type.render_all(events)
        subjects = self.subject.render_all(events) if self.subject else [event.event_type or "" for event in events]
        batch: list[tuple[int, EventGridEvent, int]] = []
        for index, (message, event_type, subject) in enumerate(zip(messages, types, subjects, strict=True)):
            for rendered in (event_type, subject):
                if isinstance(rendered, RenderError):
                    results[index] = rendered
            if results[index] is not None:
                continue
            try:
                data = self._data(message)
            except (UnicodeDecodeError, orjson.JSONDecodeError):
                results[index] = PermanentError(
                    f"{message.event!r}: the payload is not text; set content-transfer-encoding = base64"
                )
                continue
            size = len(message.payload) + len(str(subject)) + len(str(event_type)) + _ENVELOPE_BYTES
            batch.append((index, EventGridEvent(str(subject), str(event_type), data, self.config.data_version), size))
        publishes = _publishes(batch)
        for number, publish in enumerate(publishes):
            outcome = await self._publish([event for _, event, _ in publish])
            for index, _, _ in publish:
                results[index] = outcome
            if isinstance(outcome, ConnectionLost):  # the rest would meet the same
                for index, _, _ in (entry for later in publishes[number + 1 :] for entry in later):
                    results[index] = outcome
                break
        return connection_outcome(results)

    async def _publish(self, events: list[EventGridEvent]) -> BaseException | None:
        try:
            await self._publisher().send(events)
        except TokenUnavailable as exc:
            return ConnectionLost(redact(f"{self._shown}: {exc.message}"))
        except HttpResponseError as exc:
            status = exc.status_code or 0
            text = redact(f"{self._shown}: Event Grid answered {status} {exc.reason or ''}".rstrip())
            if status in (401, 403):
                return ConnectionLost(f"{text} ({self._hint})")
            if 400 <= status < 500 and status not in (408, 429):
                return PermanentError(text)
            return exc
        except (ServiceRequestError, ServiceResponseError) as exc:
            return ConnectionLost(redact(f"{self._shown}: {exc.message}"))
        return None


def _publishes(batch: list[tuple[int, EventGridEvent, int]]) -> list[list[tuple[int, EventGridEvent, int]]]:
    """*batch* in order, cut into publishes of at most :data:`PUBLISH_BYTES` (an event alone above it
    is a publish of its own, which Event Grid refuses: that event fails alone)."""
    publishes: list[list[tuple[int, EventGridEvent, int]]] = []
    size = PUBLISH_BYTES
    for entry in batch:
        # Payloads are counted as sent; JSON escapes in data can grow them, hence the margin below.
        if size + entry[2] > PUBLISH_BYTES * 9 // 10:
            publishes.append([])
            size = 0
        publishes[-1].append(entry)
        size += entry[2]
    return publishes
