"""``destination.kind = "azure-storage-queue"``: each event becomes one message of an Azure Storage
queue (``queue``, a template), put with the vendor's asynchronous SDK; see the README.

As KETE, the message text is the payload Base64-encoded (after ``content-encoding`` and
``content-transfer-encoding``), ``message-ttl`` is sent only when it is not 0, and the queue must
exist. Messages of one queue are put one after the other, in order; a batch's queues are served
side by side. The SDK's own retries are off: kete retries.

With ``authentication-type`` ``managed-identity`` or ``default-azure-credential`` the SDK carries a
Microsoft Entra token for ``https://storage.azure.com`` (fetched once, reused until shortly before it
expires), over HTTPS only; no token (the identity endpoint refuses or is out of reach) is reported at
start and makes the batch wait.

Outcomes: an endpoint out of reach, or credentials the service refuses, make the batch raise
:class:`~kete_core.Unavailable` (nothing is dead-lettered, ``/ready`` says why); a queue that does not
exist or a name the service rejects fails that event permanently; a busy or failing service (408,
429, 5xx) fails the event for a retry.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from azure.core.credentials import AzureNamedKeyCredential, AzureSasCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.queue import BinaryBase64EncodePolicy
from azure.storage.queue.aio import QueueClient, QueueServiceClient

from kete_azure.credentials import KeteTokenCredential, TokenUnavailable, token_credential
from kete_azure.settings import StorageAccount, StorageQueueSinkConfig
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

_CREDENTIALS = "connection-string, account-key or sas-token"
# What a SAS token limited to queue messages answers to the start-up check: the token is good.
_SAS_SCOPE_CODES = frozenset({"AuthorizationPermissionMismatch", "AuthorizationResourceTypeMismatch"})


def error_code(exc: HttpResponseError) -> str:
    """The service's error code (``QueueNotFound``), or the HTTP reason."""
    code = exc.error_code
    return str(getattr(code, "value", code) or exc.reason or "")


def refused_credentials(exc: HttpResponseError) -> bool:
    """Whether the service refused the request's signature or token (not its content)."""
    code = error_code(exc)
    return isinstance(exc, ClientAuthenticationError) or (exc.status_code in (401, 403) and code.startswith("Auth"))


class StorageQueueSink(Sink):
    """Puts one queue message per event; see the module documentation."""

    Config = StorageQueueSinkConfig
    config: StorageQueueSinkConfig

    def __init__(self, config: StorageQueueSinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        problems = config.problems()  # raised below, with any tls.* problem, before account() is used
        secure = not problems and config.account().url.lower().startswith("https://")
        self._ssl = checked_client_ssl(config.tls, context.path, problems, secure=secure)
        self.account: StorageAccount = config.account()
        self.queue = context.address("queue", config.queue.strip())
        self._shown = redact(self.account.url)
        self._service: QueueServiceClient | None = None
        self._queues: dict[str, QueueClient] = {}
        self._token: KeteTokenCredential | None = None
        self._hint = config.credentials_hint(_CREDENTIALS)

    def _credential(self) -> AzureNamedKeyCredential | AzureSasCredential | KeteTokenCredential:
        if self.config.token_authentication:
            self._token = token_credential(self.config, self.config.timeout_seconds)
            return self._token
        if self.account.account_key is not None:
            return AzureNamedKeyCredential(self.account.account_name or "", self.account.account_key)
        return AzureSasCredential(self.account.sas_token or "")

    def _client(self) -> QueueServiceClient:
        if self._service is None:
            timeout = self.config.timeout_seconds
            self._service = QueueServiceClient(
                self.account.url,
                credential=self._credential(),
                transport=aiohttp_transport(self._ssl),
                logger=SDK_LOG,
                retry_total=0,
                connection_timeout=timeout,
                read_timeout=timeout,
            )
        return self._service

    async def start(self) -> None:
        """Checks that the service answers and takes the credentials (a SAS token may be limited to
        messages: the service refusing it the account's properties for that reason is fine)."""
        try:
            await self._check()
        except BaseException:
            await self.close()  # kete may never call close() on a sink that did not start
            raise

    async def _check(self) -> None:
        try:
            await self._client().get_service_properties(timeout=int(self.config.timeout_seconds))
        except TokenUnavailable as exc:
            raise ConnectionLost(redact(f"{self._shown}: {exc.message}")) from None
        except HttpResponseError as exc:
            code = error_code(exc)
            if self.account.sas_token is not None and code in _SAS_SCOPE_CODES:
                return
            if refused_credentials(exc):
                raise PermanentError(
                    f"{self._shown}: the storage account refused the credentials "
                    f"({exc.status_code} {code}; check {self._hint})"
                ) from None
            raise ConnectionLost(f"{self._shown}: the queue service answered {exc.status_code} {code}") from None
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise ConnectionLost(redact(f"{self._shown}: {exc.message}")) from None

    async def close(self) -> None:
        service, self._service = self._service, None
        queues, self._queues = self._queues, {}
        token, self._token = self._token, None
        for queue in queues.values():
            await queue.close()
        if service is not None:
            await service.close()
        if token is not None:
            await token.close()

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        results: list[BaseException | None] = [None] * len(messages)
        by_queue: dict[str, list[int]] = {}
        for index, name in enumerate(self.queue.render_all([message.event for message in messages])):
            if isinstance(name, RenderError):
                results[index] = name
            else:
                by_queue.setdefault(name, []).append(index)
        encode = self.config.encoding.encode

        async def put_all(name: str, indexes: list[int]) -> None:
            queue = self._queue(name)
            for index in indexes:
                results[index] = await self._put(queue, name, encode(messages[index].payload))
                if isinstance(results[index], ConnectionLost):
                    for rest in indexes[indexes.index(index) + 1 :]:
                        results[rest] = results[index]
                    return

        await asyncio.gather(*(put_all(name, indexes) for name, indexes in by_queue.items()))
        return connection_outcome(results)

    def _queue(self, name: str) -> QueueClient:
        queue = self._queues.get(name)
        if queue is None:
            queue = self._client().get_queue_client(name, message_encode_policy=BinaryBase64EncodePolicy())
            self._queues[name] = queue
        return queue

    async def _put(self, queue: QueueClient, name: str, payload: bytes) -> BaseException | None:
        ttl = self.config.message_ttl
        options: dict[str, Any] = {"timeout": int(self.config.timeout_seconds)}
        if ttl != 0:
            options["time_to_live"] = ttl
        where = f"{self._shown}/{name}"
        try:
            await queue.send_message(payload, **options)
        except ResourceNotFoundError as exc:
            return PermanentError(f"{where}: {error_code(exc)} (the queue must exist)")
        except TokenUnavailable as exc:
            return ConnectionLost(redact(f"{where}: {exc.message}"))
        except HttpResponseError as exc:
            code = error_code(exc)
            if refused_credentials(exc):
                refused = f"the credentials were refused ({exc.status_code} {code}; check {self._hint})"
                return ConnectionLost(f"{where}: {refused}")
            status = exc.status_code or 0
            if 400 <= status < 500 and status not in (408, 429):
                return PermanentError(f"{where}: {status} {code}")
            return exc
        except (ServiceRequestError, ServiceResponseError) as exc:
            return ConnectionLost(redact(f"{where}: {exc.message}"))
        return None
