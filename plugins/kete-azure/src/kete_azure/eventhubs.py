"""``destination.kind = "azure-eventhubs"``: events are sent in Event Hubs batches with the vendor's
asynchronous producer (``azure-eventhub``, AMQP 1.0); see the README.

As KETE, each event is one ``EventData`` whose body is the payload, with the application properties
``eventkind``, ``eventtype`` and ``contenttype`` (over the custom ``headers``), sent with ``partition-key``
(a template) or to ``partition-id``. At start the producer reads the hub's properties, as KETE does: refused
credentials, a hub that does not exist or a ``partition-id`` it does not have are an error at once.

Batches: one SDK batch per distinct partition key (in the order of the route), cut where the service's
message size limit (offered on the link) is reached; an event too large for an empty batch fails alone, as
does one whose partition key has no value. A batch the service refuses fails its events alone: for a retry
(server busy, throttled, timed out), or for good (too large, malformed). A namespace out of reach or a token
it refuses makes the route wait (:class:`~kete_core.Unavailable`): the spool holds, nothing is dead-lettered.
The SDK's own retries are off: kete retries, with its backoff.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Sequence
from typing import Any

from azure.core.credentials import AccessToken
from azure.core.exceptions import ServiceRequestError
from azure.eventhub import EventData, EventDataBatch, TransportType
from azure.eventhub.aio import EventHubProducerClient
from azure.eventhub.exceptions import AuthenticationError, EventDataSendError, EventHubError, OperationTimeoutError

from kete_azure.credentials import KeteTokenCredential, TokenUnavailable, token_credential
from kete_azure.properties import custom_properties, message_properties
from kete_azure.settings import EventHubsSinkConfig
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

# Conditions (after their namespace, as the SDK keeps them) for which sending the batch again cannot help.
_PERMANENT = frozenset(
    {"link:message-size-exceeded", "decode-error", "invalid-field", "not-allowed", "not-implemented"}
)
_CREDENTIALS = "check connection-string, or authentication-type and its identity"


class EventHubsSink(Sink):
    """Sends each batch's events in Event Hubs batches; see the module documentation."""

    Config = EventHubsSinkConfig
    config: EventHubsSinkConfig

    def __init__(self, config: EventHubsSinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        problems = config.problems()
        connection = None if problems or config.token_authentication else config.connection()
        self._ssl = checked_client_ssl(
            config.tls, context.path, problems, secure=not (connection and connection.emulator)
        )
        key = config.partition_key.strip()
        self.partition_key = context.address("partition-key", key) if key else None
        self.partition_id = config.partition_id.strip() or None
        self.hub = config.hub
        host = connection.host if connection else config.fully_qualified_namespace.strip()
        self._shown = redact(f"sb://{host}/{self.hub}")
        self._properties = custom_properties(config.headers)
        self._client: EventHubProducerClient | None = None
        self._credential: _RememberingCredential | None = None

    def _producer(self) -> EventHubProducerClient:
        if self._client is None:
            config = self.config
            options: dict[str, Any] = {
                "retry_total": 0,
                "auth_timeout": config.timeout_seconds,
                # KETE's SDK speaks AMQP over TCP; Python's defaults to WebSockets with a custom endpoint.
                "transport_type": TransportType.Amqp,
            }
            if config.custom_endpoint_address.strip():
                options["custom_endpoint_address"] = config.custom_endpoint_address.strip()
            if isinstance(self._ssl, ssl.SSLContext):
                options["ssl_context"] = self._ssl
            if config.token_authentication:
                self._credential = _RememberingCredential(token_credential(config, config.timeout_seconds))
                namespace = config.fully_qualified_namespace.strip()
                self._client = EventHubProducerClient(namespace, self.hub, self._credential, **options)
            else:
                raw = config.connection_string.get_secret_value().strip() if config.connection_string else ""
                if config.event_hub.strip():
                    options["eventhub_name"] = config.event_hub.strip()
                self._client = EventHubProducerClient.from_connection_string(raw, **options)
        return self._client

    async def start(self) -> None:
        """Reads the hub's properties, as KETE does: the credentials, the hub and ``partition-id`` checked."""
        try:
            await self._check()
        except BaseException:
            await self.close()  # kete may never call close() on a sink that did not start
            raise

    async def _check(self) -> None:
        try:
            properties = await asyncio.wait_for(
                self._producer().get_eventhub_properties(), self.config.timeout_seconds * 2
            )
        except AuthenticationError as exc:
            refused = f"the namespace refused the credentials ({_reason(exc)}; {_CREDENTIALS})"
            raise PermanentError(f"{self._shown}: {refused}") from None
        except (TokenUnavailable, EventHubError) as exc:
            failure = self._credential.failure if self._credential else None
            if failure is not None:  # the SDK wraps the credential's error in its own
                if isinstance(failure.__cause__, ServiceRequestError):  # the identity endpoint out of reach
                    raise ConnectionLost(f"{self._shown}: {failure}") from None
                raise PermanentError(f"{self._shown}: {failure}") from None
            if isinstance(exc, TokenUnavailable):
                raise ConnectionLost(f"{self._shown}: {exc}") from None
            if exc.error == "not-found" or "404" in str(exc):
                raise PermanentError(f"{self._shown}: the event hub does not exist") from None
            raise ConnectionLost(f"{self._shown}: {_reason(exc)}") from None
        except TimeoutError:
            raise ConnectionLost(f"{self._shown}: no answer in {self.config.timeout_seconds * 2:g} s") from None
        partitions = properties.get("partition_ids", [])
        if self.partition_id is not None and self.partition_id not in partitions:
            raise PermanentError(
                f"{self._shown}: partition-id '{self.partition_id}' is not a partition of the hub "
                f"({', '.join(partitions)})"
            )

    async def close(self) -> None:
        client, self._client = self._client, None
        credential, self._credential = self._credential, None
        if client is not None:
            await client.close()
        if credential is not None:
            await credential.close()

    def _event(self, message: Message) -> EventData:
        data = EventData(message.payload)
        data.properties = message_properties(self._properties, message)
        return data

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        results: list[BaseException | None] = [None] * len(messages)
        events = [message.event for message in messages]
        keys = self.partition_key.render_all(events) if self.partition_key else [None] * len(messages)
        groups: dict[str | None, list[int]] = {}
        for index, key in enumerate(keys):
            if isinstance(key, RenderError):
                results[index] = key
            else:
                groups.setdefault(key, []).append(index)
        pending = list(groups.items())
        for number, (key, indexes) in enumerate(pending):
            lost = await self._send_group(key, indexes, messages, results)
            if lost is not None:  # the rest would meet the same
                for _, later in pending[number + 1 :]:
                    for index in later:
                        results[index] = lost
                break
        return connection_outcome(results)

    async def _send_group(
        self, key: str | None, indexes: list[int], messages: Sequence[Message], results: list[BaseException | None]
    ) -> ConnectionLost | None:
        """Send the events *indexes* (one partition key) in as many batches as they need; their outcomes
        go to *results*. Returns the :class:`ConnectionLost` that stopped it, if one did."""
        members: list[int] = []
        batch: EventDataBatch | None = None
        for position, index in enumerate(indexes):
            data = self._event(messages[index])
            for _ in range(2):
                if batch is None:
                    made = await self._batch(key)
                    if isinstance(made, ConnectionLost):
                        for rest in indexes[position:]:
                            results[rest] = made
                        return made
                    batch = made
                try:
                    batch.add(data)
                except ValueError:
                    if not members:
                        results[index] = PermanentError(
                            f"{messages[index].event!r}: {len(messages[index].payload)} bytes do not fit in an "
                            f"Event Hubs batch ({batch.max_size_in_bytes} bytes at most)"
                        )
                        break
                    lost = await self._deliver(batch, members, results)
                    if lost is not None:
                        for rest in indexes[position:]:
                            results[rest] = lost
                        return lost
                    batch, members = None, []
                    continue
                members.append(index)
                break
        if members and batch is not None:
            return await self._deliver(batch, members, results)
        return None

    async def _batch(self, key: str | None) -> EventDataBatch | ConnectionLost:
        options = {"partition_key": key} if key is not None else {}
        if self.partition_id is not None:
            options = {"partition_id": self.partition_id}
        try:
            return await self._producer().create_batch(**options)
        except (EventHubError, TokenUnavailable) as exc:
            return self._lost(exc)

    async def _deliver(
        self, batch: EventDataBatch, members: list[int], results: list[BaseException | None]
    ) -> ConnectionLost | None:
        outcome = await self._send_batch(batch)
        for index in members:
            results[index] = outcome
        return outcome if isinstance(outcome, ConnectionLost) else None

    async def _send_batch(self, batch: EventDataBatch) -> BaseException | None:
        try:
            await self._producer().send_batch(batch, timeout=self.config.timeout_seconds)
        except EventDataSendError as exc:
            text = f"{self._shown}: the service refused the batch ({_reason(exc)})"
            return PermanentError(text) if exc.error in _PERMANENT else EventDataSendError(text)
        except OperationTimeoutError as exc:
            return exc
        except (EventHubError, TokenUnavailable) as exc:
            return self._lost(exc)
        return None

    def _lost(self, exc: Exception) -> ConnectionLost:
        if isinstance(exc, AuthenticationError):
            return ConnectionLost(f"{self._shown}: the token was refused ({_reason(exc)}; {_CREDENTIALS})")
        return ConnectionLost(redact(f"{self._shown}: {_reason(exc)}"))


class _RememberingCredential:
    """A :class:`KeteTokenCredential` that keeps its last failure (the SDK reports it as its own error, without
    the cause), so that the start-up check can tell an identity refused from an endpoint out of reach."""

    def __init__(self, credential: KeteTokenCredential) -> None:
        self.credential = credential
        self.failure: TokenUnavailable | None = None

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        try:
            token = await self.credential.get_token(*scopes, **kwargs)
        except TokenUnavailable as exc:
            self.failure = exc
            raise
        self.failure = None
        return token

    async def close(self) -> None:
        await self.credential.close()


def _reason(exc: Exception) -> str:
    """The SDK's message on one line (it repeats itself over several)."""
    lines = [line.strip() for line in str(getattr(exc, "message", None) or exc).splitlines() if line.strip()]
    return "; ".join(dict.fromkeys(lines)) or type(exc).__name__
