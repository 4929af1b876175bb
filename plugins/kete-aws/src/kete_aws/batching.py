"""What the four AWS sinks share: the client, the start-up check, batch requests in flight, per-entry
outcomes, retries with backoff and the mapping of AWS errors onto kete's.

A sink turns each message into an :class:`Entry` for one target (a queue URL, a topic ARN, a stream,
an event bus), or into the error that fails that message alone. Entries are cut into the service's
batches (count and bytes); batches of different targets, and of one target that keeps no order, go
out concurrently (``max-concurrency``), those of an ordered target (FIFO, Kinesis) one after the other.
Each batch's answer is read entry by entry: an entry the service refused for good is a
:class:`~kete_core.PermanentError` for its message alone; throttled or failed-inside-AWS entries are
sent again (only they) with exponential backoff and jitter. A batch refused as a whole for a reason
one entry may cause (too large, an invalid value) is sent again entry by entry, so that the entry at
fault fails alone. When nothing got through because the endpoint is unreachable, refuses the
credentials or throttles everything, :meth:`AwsSink.send` raises :class:`~kete_core.Unavailable`:
kete then waits for the destination and the spool keeps the events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import ssl
from abc import abstractmethod
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from aiobotocore.config import AioConfig
from botocore import UNSIGNED
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from kete_aws.credentials import CredentialsError, session_for
from kete_aws.settings import AwsSettings
from kete_core import (
    ConfigError,
    ConfigErrors,
    DeliveryResults,
    Message,
    PermanentError,
    Sink,
    SinkContext,
    Template,
    Unavailable,
    client_ssl_context,
    load_tls,
    redact,
)

log = logging.getLogger("kete.aws")

THROTTLED = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "KMSThrottlingException",
        "SlowDown",
    }
)
"""Error codes that ask the sender to slow down: sent again after a pause."""

FAILED_INSIDE = frozenset({"InternalFailure", "InternalError", "InternalException", "ServiceUnavailable"})
"""Error codes of a failure inside AWS: sent again after a pause."""

REFUSED_CREDENTIALS = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "ExpiredToken",
        "ExpiredTokenException",
        "AccessDenied",
        "AccessDeniedException",
        "AuthFailure",
        "AuthorizationError",
        "NotAuthorizedException",
    }
)
"""Error codes of credentials the service refuses: every event would fail, so the route waits."""

MISSING_TARGET = frozenset(
    {
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "NotFound",
        "NotFoundException",
        "ResourceNotFoundException",
    }
)
"""Error codes saying the target itself does not exist: its entries fail for good, not one by one."""

_NAME_VALUE = re.compile(r"^[A-Za-z0-9_.-]+$")


def name_value(value: str) -> str:
    """A variable's value inside an AWS resource name: letters, digits, ``_``, ``-`` and ``.`` only,
    so that no value adds a path, an ARN part or a character the service refuses."""
    if not _NAME_VALUE.match(value):
        raise ValueError(f"{value!r} has characters an AWS resource name cannot hold")
    return value


class Retry(Exception):
    """An entry (or a whole request) that a later attempt may deliver.

    :ivar down: nothing of the request got through because the destination is unreachable, refuses
        the credentials or throttles everything: the route should wait rather than retry each event.
    """

    def __init__(self, message: str, *, down: bool = False) -> None:
        super().__init__(message)
        self.down = down


@dataclass
class Entry:
    """One message as the batch API takes it.

    :ivar index: the message's place in the batch :meth:`AwsSink.send` was given.
    :ivar target: where it goes (queue URL, topic ARN, stream name, event bus).
    :ivar request: the entry of the batch request (without its ``Id``, set per batch).
    :ivar size: the bytes it counts for against the batch's size limit.
    """

    index: int
    target: str
    request: dict[str, Any]
    size: int


Outcome = BaseException | None
"""One entry's result: None when delivered, else why not (a :class:`Retry` to send again)."""


def text_payload(encoded: bytes) -> str | PermanentError:
    """A payload as the text the SQS, SNS and EventBridge APIs carry; bytes that are not UTF-8 fail
    their event (KETE sent them damaged)."""
    try:
        return encoded.decode("utf-8")
    except UnicodeDecodeError:
        return PermanentError(
            "the payload is not UTF-8 text, which this service carries only as text: "
            "set content-transfer-encoding = 'base64' or a text serializer"
        )


def coded_outcomes(where: str, results: Sequence[dict[str, Any]]) -> list[Outcome]:
    """The outcomes of Kinesis ``Records`` and EventBridge ``Entries``, positional answers with an
    ``ErrorCode`` on the failed ones: throttled or failed inside AWS are sent again, the rest fail."""
    outcomes: list[Outcome] = []
    for result in results:
        code = result.get("ErrorCode")
        if not code:
            outcomes.append(None)
            continue
        detail = f"{where}: {code}: {result.get('ErrorMessage', '')}"
        outcomes.append(Retry(detail) if code in THROTTLED or code in FAILED_INSIDE else PermanentError(detail))
    return outcomes


def failed_outcomes(where: str, count: int, failed: Sequence[dict[str, Any]]) -> list[Outcome]:
    """The outcomes of an SQS or SNS batch of *count* entries (``Id`` their place) from its ``Failed``
    list: a sender's fault fails for good, any other failure is sent again."""
    outcomes: list[Outcome] = [None] * count
    for entry in failed:
        detail = f"{where}: {entry.get('Code')}: {entry.get('Message', '')}"
        outcomes[int(entry["Id"])] = PermanentError(detail) if entry.get("SenderFault") else Retry(detail)
    return outcomes


def error_code(exc: ClientError) -> tuple[str, int]:
    """The AWS error code and HTTP status of *exc*."""
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return str(error.get("Code", "")), int(status or 0)


class AwsSink(Sink):
    """Base of the four AWS sinks; see the module documentation.

    :cvar kind: the ``destination.kind``.
    :cvar service: botocore's service name.
    :cvar batch_count: most entries in one batch request.
    :cvar batch_bytes: most bytes in one batch request.
    """

    kind: ClassVar[str]
    service: ClassVar[str]
    batch_count: ClassVar[int]
    batch_bytes: ClassVar[int]
    config: AwsSettings

    def __init__(self, config: AwsSettings, context: SinkContext) -> None:
        super().__init__(config, context)
        errors = [ConfigError(message, path=f"{context.path}.{setting}") for setting, message in self.problems()]
        material = None
        try:
            material = load_tls(config.tls, f"{context.path}.tls")
        except ConfigErrors as exc:
            errors += exc.errors
        if errors:
            raise ConfigErrors(errors)
        self.region = config.resolved_region() or ""
        self.endpoint_url = config.endpoint_url.strip() if config.endpoint_url else None
        self._ssl: ssl.SSLContext | None = None
        if config.tls.model_fields_set:
            self._ssl = client_ssl_context(config.tls, f"{context.path}.tls", material)
        self._client: Any = None
        self._stack: contextlib.AsyncExitStack | None = None

    def problems(self) -> list[tuple[str, str]]:
        """(setting, message) pairs of settings that cannot work; each kind adds its own."""
        return self.config.problems()

    def template(self, setting: str, text: str | None) -> Template | None:
        """*text* compiled as the templated setting *setting*, or None when it is unset or blank."""
        if text is None or not text.strip():
            return None
        return self.context.template(setting, text.strip())

    # ------------------------------------------------------------------ what each kind supplies

    @abstractmethod
    def entries(self, messages: Sequence[Message]) -> list[Entry | BaseException]:
        """Each message as an :class:`Entry` (its ``index`` the message's place), or the error that
        fails it alone (a RenderError, a value the service would refuse), in the messages' order."""

    @abstractmethod
    async def put(self, client: Any, target: str, batch: list[Entry]) -> list[Outcome]:
        """Send *batch* to *target* in one request and return each entry's outcome, read from the
        answer (raise the client's error when the request failed as a whole)."""

    @abstractmethod
    async def probe(self, client: Any) -> None:
        """KETE's start-up check: one cheap call that needs the endpoint and the credentials."""

    def ordered(self, target: str) -> bool:
        """Whether the batches of *target* must go out one after the other (to keep their order)."""
        return False

    # ------------------------------------------------------------------ client

    def _where(self) -> str:
        return self.endpoint_url or f"AWS ({self.region})"

    async def start(self) -> None:
        if self._client is not None:
            return
        try:
            session = session_for(self.config)
        except CredentialsError as exc:
            raise Unavailable(f"{self.kind}: {exc}") from None
        config = self.config
        options: dict[str, Any] = {
            "connect_timeout": config.timeout_seconds,
            "read_timeout": config.timeout_seconds,
            "retries": {"total_max_attempts": 1},  # kete retries, per entry
            "max_pool_connections": config.max_concurrency,
        }
        if config.authentication_type is None:
            options["signature_version"] = UNSIGNED
        if self._ssl is not None:
            options["connector_args"] = {"ssl_context": self._ssl}
        stack = contextlib.AsyncExitStack()
        client = await stack.enter_async_context(
            session.create_client(
                self.service, region_name=self.region, endpoint_url=self.endpoint_url, config=AioConfig(**options)
            )
        )
        try:
            await self.probe(client)
        except Exception as exc:
            await stack.aclose()
            raise Unavailable(self._whole_failure(exc, "the start-up check").args[0]) from None
        self._client, self._stack = client, stack

    async def close(self) -> None:
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    def _whole_failure(self, exc: BaseException, what: str) -> BaseException:
        """What a request that failed as a whole means for each of its entries."""
        where = self._where()
        if isinstance(exc, NoCredentialsError):
            return Retry(
                f"{self.kind}: no credentials found for authentication-type "
                f"'{self.config.authentication_type}' ({what} at {where})",
                down=True,
            )
        if isinstance(exc, ClientError):
            code, status = error_code(exc)
            detail = redact(
                f"{self.kind} {what} at {where}: {code}: {exc.response.get('Error', {}).get('Message', '')}"
            )
            if code in REFUSED_CREDENTIALS or status in (401, 403):
                return Retry(f"{detail} (the credentials were refused: check authentication-type)", down=True)
            if code in THROTTLED or status == 429:
                return Retry(detail, down=True)
            if code in FAILED_INSIDE or status >= 500:
                return Retry(detail)
            return PermanentError(detail)
        if isinstance(exc, (BotoCoreError, OSError, asyncio.TimeoutError)):
            return Retry(redact(f"{self.kind} {what}: {where} is unreachable: {exc}"), down=True)
        return exc

    # ------------------------------------------------------------------ sending

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        await self.start()
        results: list[Outcome] = [None] * len(messages)
        pending: list[Entry] = []
        for index, prepared in enumerate(self.entries(messages)):
            if isinstance(prepared, Entry):
                pending.append(prepared)
            else:
                results[index] = prepared
        config = self.config
        attempt = 0
        while pending:
            attempt += 1
            outcomes = await self._round(pending)
            retry: list[Entry] = []
            for entry, outcome in zip(pending, outcomes, strict=True):
                results[entry.index] = outcome
                if isinstance(outcome, Retry):
                    retry.append(entry)
            down = all(isinstance(outcome, Retry) and outcome.down for outcome in outcomes)
            if not retry or attempt >= config.retry_attempts or down:
                break
            pause = min(config.retry_max_backoff, config.retry_initial_backoff * 2 ** (attempt - 1))
            await asyncio.sleep(pause * random.uniform(0.5, 1.0))
            pending = retry
        if not any(results):
            return None
        if all(isinstance(result, Retry) and result.down for result in results):
            first = results[0]
            raise Unavailable(str(first)) from first
        return results

    async def _round(self, entries: list[Entry]) -> list[Outcome]:
        """Send *entries* once, in batches, and return each one's outcome in their order."""
        outcomes: list[Outcome] = [None] * len(entries)
        by_target: dict[str, list[tuple[int, Entry]]] = {}
        for position, entry in enumerate(entries):
            by_target.setdefault(entry.target, []).append((position, entry))
        gate = asyncio.Semaphore(self.config.max_concurrency)

        async def deliver(batch: list[tuple[int, Entry]]) -> None:
            async with gate:
                results = await self._batch(batch[0][1].target, [entry for _, entry in batch])
            for (position, _), outcome in zip(batch, results, strict=True):
                outcomes[position] = outcome

        async def in_turn(batches: list[list[tuple[int, Entry]]]) -> None:
            for batch in batches:
                await deliver(batch)

        jobs: list[Awaitable[None]] = []
        for target, members in by_target.items():
            batches = self._cut(members)
            if self.ordered(target):
                jobs.append(in_turn(batches))
            else:
                jobs.extend(deliver(batch) for batch in batches)
        await asyncio.gather(*jobs)
        return outcomes

    def _cut(self, members: list[tuple[int, Entry]]) -> list[list[tuple[int, Entry]]]:
        batches: list[list[tuple[int, Entry]]] = []
        current: list[tuple[int, Entry]] = []
        size = 0
        for member in members:
            entry_size = member[1].size
            if current and (len(current) >= self.batch_count or size + entry_size > self.batch_bytes):
                batches.append(current)
                current, size = [], 0
            current.append(member)
            size += entry_size
        if current:
            batches.append(current)
        return batches

    async def _batch(self, target: str, batch: list[Entry]) -> list[Outcome]:
        try:
            return await self.put(self._client, target, batch)
        except Exception as exc:
            failure = self._whole_failure(exc, "batch request")
            if isinstance(failure, PermanentError) and len(batch) > 1 and not self._missing_target(exc):
                # Refused as a whole for what one entry may cause: find it by sending them one by one.
                return [outcome for entry in batch for outcome in await self._batch(target, [entry])]
            if not isinstance(failure, (Retry, PermanentError)):
                log.exception("%s: unexpected failure", self.kind)
            return [failure] * len(batch)

    @staticmethod
    def _missing_target(exc: BaseException) -> bool:
        return isinstance(exc, ClientError) and error_code(exc)[0] in MISSING_TARGET
