"""``destination.kind = "azure-servicebus"``: each event becomes one message of a Service Bus queue or
topic (``queue`` xor ``topic``, a template), sent in the SDK's batches (``ServiceBusMessageBatch``) with
the vendor's asynchronous client (``azure.servicebus.aio``); see the README.

As KETE: the body is the serialized event (content encodings are accepted and not applied), the
message's ``content_type`` the serializer's, its application properties ``eventkind``, ``eventtype``
and ``contenttype`` after ``headers.*``, ``subject`` and ``session-id`` templates. One sender (one
AMQP link) per entity; KETE's start-up check connects to the namespace's AMQP port, and kete also opens
the sender of a fixed entity, so refused credentials or a missing entity show at once.

Messages of one entity and session id go out in order, batch after batch; entities are served side
by side. Outcomes: a namespace out of reach or credentials it refuses make the batch raise
:class:`~kete_core.Unavailable` (nothing is dead-lettered, ``/ready`` says why), so does a namespace
that is busy (throttling) for everything; an entity that does not exist fails its events permanently,
an event too large for an empty batch fails alone; a batch the service refuses fails its events alone
(for a retry, or permanently when the service says the message is at fault). The SDK's own retries
are off: kete retries.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
from azure.servicebus import ServiceBusMessage, ServiceBusMessageBatch, TransportType
from azure.servicebus.aio import ServiceBusClient, ServiceBusSender
from azure.servicebus.exceptions import (
    MessageSizeExceededError,
    MessagingEntityNotFoundError,
    OperationTimeoutError,
    ServiceBusAuthenticationError,
    ServiceBusAuthorizationError,
    ServiceBusCommunicationError,
    ServiceBusConnectionError,
    ServiceBusError,
    ServiceBusServerBusyError,
)

from kete_azure.credentials import KeteTokenCredential, TokenUnavailable, token_credential
from kete_azure.properties import custom_properties, message_properties
from kete_azure.settings import Namespace, ServiceBusSinkConfig
from kete_azure.transport import SDK_LOG
from kete_core import (
    ConnectionLost,
    DeliveryResults,
    Message,
    PermanentError,
    RenderError,
    Sink,
    SinkContext,
    Unavailable,
    checked_client_ssl,
    redact,
)

log = logging.getLogger("kete.azure")
T = TypeVar("T")

ENTITY_NAME_LENGTH = 260
"""The longest queue or topic name Service Bus takes."""
_NAME_VALUE = re.compile(r"^[A-Za-z0-9._-]+$")
# AMQP conditions saying the message itself is at fault: sending it again cannot help.
_REFUSED_FOR_GOOD = frozenset(
    {
        "amqp:decode-error",
        "amqp:invalid-field",
        "amqp:not-implemented",
        "amqp:link:message-size-exceeded",
        "com.microsoft:argument-error",
        "com.microsoft:argument-out-of-range",
    }
)
_CREDENTIALS = "check connection-string (SharedAccessKeyName, SharedAccessKey) or authentication-type"


def entity_name_value(value: str) -> str:
    """A variable's value inside a queue or topic name: letters, digits, ``.``, ``-`` and ``_``, so that
    no value adds a path segment or a character Service Bus refuses in names."""
    if not _NAME_VALUE.match(value):
        raise ValueError(f"{value!r} has characters a Service Bus entity name cannot hold")
    return value


class LinkClosed(Exception):
    """The service closed the entity's link while a batch was on it, without a reason the SDK keeps (Service
    Bus answers a link to an entity that does not exist so): sent again, then dead-lettered."""


class Busy(Exception):
    """The namespace asked the sender to slow down (``com.microsoft:server-busy``, throttling)."""


class ServiceBusSink(Sink):
    """Sends each event as a Service Bus message, in batches; see the module documentation."""

    Config = ServiceBusSinkConfig
    config: ServiceBusSinkConfig

    def __init__(self, config: ServiceBusSinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        self._ssl = checked_client_ssl(config.tls, context.path, config.problems(), secure=False)
        self.namespace: Namespace = config.namespace()
        entity = config.entity
        self.entity = context.address(config.entity_setting, entity, entity_name_value)
        self.fixed_entity = entity if not self.entity.variables else None
        session_id, subject = config.session_id.strip(), config.subject.strip()
        self.session_id = context.address("session-id", session_id) if session_id else None
        self.subject = context.template("subject", subject) if subject else None
        self.headers = custom_properties(config.headers)
        self._client: ServiceBusClient | None = None
        self._credential: KeteTokenCredential | None = None
        self._senders: dict[str, ServiceBusSender] = {}

    # ------------------------------------------------------------------ connection

    def _new_client(self) -> ServiceBusClient:
        config = self.config
        options: dict[str, Any] = {
            "retry_total": 0,  # kete retries, per event
            "try_timeout": config.timeout_seconds,
            "logging_enable": False,
        }
        custom = config.custom_endpoint_address.strip()
        if custom:
            options["custom_endpoint_address"] = custom
            options["transport_type"] = TransportType.Amqp  # KETE's SDK keeps AMQP; Python's would use WebSockets
        if isinstance(self._ssl, ssl.SSLContext):
            options["ssl_context"] = self._ssl
        if config.token_authentication:
            self._credential = token_credential(config, config.timeout_seconds)
            return ServiceBusClient(self.namespace.host, self._credential, **options)
        return ServiceBusClient.from_connection_string(config.secret_connection_string(), **options)

    def _sender(self, name: str) -> ServiceBusSender:
        sender = self._senders.get(name)
        if sender is None:
            if self._client is None:
                self._client = self._new_client()
            if self.config.queue.strip():
                sender = self._client.get_queue_sender(name, logger=SDK_LOG)
            else:
                sender = self._client.get_topic_sender(name, logger=SDK_LOG)
            self._senders[name] = sender
        return sender

    async def _drop(self, name: str) -> None:
        """Close the sender of *name* after its connection failed: the next batch opens a new one."""
        sender = self._senders.pop(name, None)
        if sender is not None:
            try:
                await asyncio.wait_for(sender.close(), self.config.timeout_seconds)
            except Exception as exc:  # a dead connection may fail its own close
                log.debug("closing the sender of %s failed: %s", name, exc)

    async def start(self) -> None:
        """KETE's check: the namespace's AMQP port answers. With a fixed entity kete also opens its
        sender: refused credentials or a missing entity are reported here, in words."""
        try:
            await self._check()
        except BaseException:
            await self.close()  # kete may never call close() on a sink that did not start
            raise

    async def _check(self) -> None:
        host, port = self.namespace.connect_to
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), self.config.timeout_seconds)
        except (OSError, TimeoutError) as exc:
            raise ConnectionLost(redact(f"{host}:{port} is out of reach: {exc or 'no answer in time'}")) from None
        writer.close()
        await writer.wait_closed()
        if self.fixed_entity is None:
            return
        try:
            await self._bounded(self._sender(self.fixed_entity).create_message_batch())
        except Exception as exc:
            outcome = self._failure(self.fixed_entity, exc)
            await self._drop(self.fixed_entity)
            if isinstance(outcome, ConnectionLost) and _refused(exc):
                raise PermanentError(str(outcome)) from None
            raise outcome from None

    async def _bounded(self, operation: Awaitable[T]) -> T:
        """*operation* given twice ``timeout-seconds`` at most: the SDK's own bounds do not cover every
        wait (an answer it cannot read leaves a send waiting); past it, a :class:`TimeoutError`."""
        return await asyncio.wait_for(operation, 2 * self.config.timeout_seconds)

    async def close(self) -> None:
        senders, self._senders = self._senders, {}
        client, self._client = self._client, None
        credential, self._credential = self._credential, None
        for sender in senders.values():
            try:
                await sender.close()
            except Exception as exc:
                log.debug("closing a Service Bus sender failed: %s", exc)
        if client is not None:
            await client.close()
        if credential is not None:
            await credential.close()

    # ------------------------------------------------------------------ sending

    def _message(self, message: Message, subject: str | None, session_id: str | None) -> ServiceBusMessage:
        return ServiceBusMessage(
            message.payload,
            content_type=message.content_type,
            application_properties=message_properties(self.headers, message),
            subject=subject,
            session_id=session_id,
        )

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        results: list[BaseException | None] = [None] * len(messages)
        events = [message.event for message in messages]
        entities = self.entity.render_all(events)
        sessions = self.session_id.render_all(events) if self.session_id else [None] * len(events)
        subjects = self.subject.render_all(events) if self.subject else [None] * len(events)
        # entity -> session id -> the batch's messages, in the order they come
        groups: dict[str, dict[str | None, list[tuple[int, ServiceBusMessage]]]] = {}
        for index, (entity, session, subject) in enumerate(zip(entities, sessions, subjects, strict=True)):
            if isinstance(entity, RenderError) or isinstance(session, RenderError) or isinstance(subject, RenderError):
                results[index] = next(value for value in (entity, session, subject) if isinstance(value, RenderError))
                continue
            if len(entity) > ENTITY_NAME_LENGTH:
                results[index] = PermanentError(
                    f"{self.config.entity_setting} '{entity[:40]}...' is longer than Service Bus allows "
                    f"({ENTITY_NAME_LENGTH} characters)"
                )
                continue
            if self.namespace.entity and entity != self.namespace.entity:
                results[index] = PermanentError(
                    f"{self.config.entity_setting} '{entity}' is not the connection string's "
                    f"EntityPath '{self.namespace.entity}'"
                )
                continue
            prepared = self._message(messages[index], subject, session)
            groups.setdefault(entity, {}).setdefault(session, []).append((index, prepared))

        async def serve(entity: str, by_session: dict[str | None, list[tuple[int, ServiceBusMessage]]]) -> None:
            pending = list(by_session.values())
            for number, group in enumerate(pending):
                stop = await self._send_group(entity, group, results)
                if stop is not None:  # the entity's other sessions would meet the same
                    for index, _ in (member for later in pending[number + 1 :] for member in later):
                        results[index] = stop
                    return

        await asyncio.gather(*(serve(entity, by_session) for entity, by_session in groups.items()))
        return _outcome(results)

    async def _send_group(
        self, entity: str, group: list[tuple[int, ServiceBusMessage]], results: list[BaseException | None]
    ) -> BaseException | None:
        """Send *group* (one entity, one session id) in batches, in order, and record each message's
        outcome in *results*. Returns the error that stops the entity (its link did not open, its
        connection was lost, the namespace is busy), after recording it for the unsent messages."""
        sender = self._sender(entity)
        batch: ServiceBusMessageBatch | None = None
        members: list[int] = []
        position = 0
        while position < len(group):
            index, prepared = group[position]
            try:
                if batch is None:
                    batch, members = await self._bounded(sender.create_message_batch()), []
                batch.add_message(prepared)
            except MessageSizeExceededError:
                if batch is not None and members:  # full: send it; this message opens the next one
                    stop, batch = await self._send_batch(entity, sender, batch, members, results), None
                    if stop is not None:
                        return _record(stop, group[position:], results)
                    continue
                limit = batch.max_size_in_bytes if batch is not None else "?"
                results[index] = PermanentError(
                    f"{self.namespace}/{entity}: the message is larger than the {self.config.entity_setting} "
                    f"takes in a batch ({limit} bytes)"
                )
            except Exception as exc:  # the link did not open
                failure = self._failure(entity, exc)
                await self._drop(entity)
                return _record(failure, group[position:], results)
            else:
                members.append(index)
            position += 1
        if batch is not None and members:
            return await self._send_batch(entity, sender, batch, members, results)
        return None

    async def _send_batch(
        self,
        entity: str,
        sender: ServiceBusSender,
        batch: ServiceBusMessageBatch,
        members: list[int],
        results: list[BaseException | None],
    ) -> BaseException | None:
        """Send *batch*; a failure is recorded for its *members* alone, and returned when it stops the
        entity (a lost connection, a busy namespace)."""
        try:
            await self._bounded(sender.send_messages(batch, timeout=self.config.timeout_seconds))
        except Exception as exc:
            failure = self._failure(entity, exc)
            for index in members:
                results[index] = failure
            if isinstance(failure, ConnectionLost | LinkClosed):
                await self._drop(entity)
            if isinstance(failure, ConnectionLost | Busy):
                return failure
        return None

    def _failure(self, entity: str, exc: BaseException) -> BaseException:
        """What an error of the SDK means for the events it concerns."""
        where = f"{self.namespace}/{entity}"
        detail = redact(f"{where}: {_describe(exc)}")
        token = _token_failure(exc)
        if token is not None:
            return ConnectionLost(redact(f"{where}: {token}"))
        if _refused(exc):
            return ConnectionLost(f"{where}: the namespace refused the credentials ({_describe(exc)}; {_CREDENTIALS})")
        if isinstance(exc, ServiceBusConnectionError) and _condition(exc) == "amqp:unknown-error":
            kind = self.config.entity_setting
            return LinkClosed(f"{where}: the namespace closed the link to the {kind} (does the {kind} exist?)")
        if isinstance(exc, MessagingEntityNotFoundError):
            kind = self.config.entity_setting
            return PermanentError(f"{where}: the {kind} does not exist ({_describe(exc)})")
        if isinstance(exc, ServiceBusServerBusyError):
            return Busy(f"{detail} (the namespace is throttling)")
        if isinstance(
            exc,
            ServiceBusConnectionError | ServiceBusCommunicationError | OperationTimeoutError | OSError | TimeoutError,
        ):
            # A batch whose outcome is unknown (no answer in time) is sent again on a new link: at least once.
            return ConnectionLost(detail)
        if isinstance(exc, MessageSizeExceededError):
            return PermanentError(detail)
        if isinstance(exc, ServiceBusError):
            return PermanentError(detail) if _condition(exc) in _REFUSED_FOR_GOOD else exc
        return exc


def _record(
    failure: BaseException, unsent: list[tuple[int, ServiceBusMessage]], results: list[BaseException | None]
) -> BaseException:
    for index, _ in unsent:
        results[index] = failure
    return failure


def _condition(exc: BaseException) -> str:
    """The AMQP error condition of a Service Bus error (``amqp:internal-error``), or ""."""
    return str(getattr(exc, "_condition", "") or "")


def _token_failure(exc: BaseException) -> TokenUnavailable | None:
    """The credential's failure behind *exc* (the SDK wraps it in its own error), if that is what it is."""
    for candidate in (exc, getattr(exc, "inner_exception", None)):
        if isinstance(candidate, TokenUnavailable):
            return candidate
    return None


def _refused(exc: BaseException) -> bool:
    """The namespace refused the credentials, or the identity endpoint refused kete a token (not: was out of
    reach). Through a ``custom-endpoint-address`` the SDK reports a refused token as a connection error."""
    token = _token_failure(exc)
    if token is not None:
        return not isinstance(token.__cause__, ServiceRequestError)
    if isinstance(exc, ServiceBusAuthenticationError | ServiceBusAuthorizationError | ClientAuthenticationError):
        return True
    inner = getattr(exc, "inner_exception", None)
    # pyamqp's AuthenticationException and its TokenAuthFailure (a CBS put-token answered 401)
    refusals = {"AuthenticationException", "TokenAuthFailure"}
    return isinstance(exc, ServiceBusConnectionError) and type(inner).__name__ in refusals


def _describe(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())


def _outcome(results: list[BaseException | None]) -> DeliveryResults:
    """None when every event got through; :class:`~kete_core.Unavailable` when none did because the
    namespace is out of reach, refuses the credentials or throttles everything; else the results."""
    if not any(results):
        return None
    down = [error for error in results if isinstance(error, ConnectionLost | Busy)]
    if down and all(isinstance(error, ConnectionLost | Busy | PermanentError) for error in results):
        raise Unavailable(str(down[0]))
    return results
