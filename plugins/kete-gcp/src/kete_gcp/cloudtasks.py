"""``destination.kind = "gcp-cloud-tasks"``: one Cloud Tasks task per event, created over gRPC; see the README.

As KETE's gcp-cloud-tasks destination: ``CreateTask`` on ``projects/<project>/locations/<location>/queues/<queue>``
with the ``x-goog-request-params: parent=…`` metadata; the task's ``httpRequest`` calls ``target-url`` with
``http-method``, the headers ``headers.*`` then KETE's ``eventkind``, ``eventtype`` and ``contenttype``, and
the serialized event after ``content-encoding`` and ``content-transfer-encoding`` as its body. A token from
the configured credentials goes as ``authorization: Bearer`` metadata, none against an emulator. At start
the queue is read (``GetQueue``), or the location's queues listed (``ListQueues``, one) when the queue is a
template, ``PERMISSION_DENIED`` counts as reachable.

Unlike KETE (one blocking call at a time, without a deadline) every call has ``timeout-seconds`` and the
calls of a batch are in flight together over one channel kept open across batches (``max-concurrency``).
``UNAVAILABLE`` and ``DEADLINE_EXCEEDED`` are :class:`ConnectionLost` (a batch none of which got through
makes the route wait); ``RESOURCE_EXHAUSTED``, ``ABORTED``, ``INTERNAL``, ``UNKNOWN`` and ``CANCELLED`` fail
the event for the route's retries; any other status (``INVALID_ARGUMENT``, ``NOT_FOUND``, a token refused
again after a fresh one) fails it permanently.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from typing import Any

import aiohttp
import grpc
import grpc.aio
from google.cloud.tasks_v2.types import cloudtasks, queue, target, task
from kete_grpc.channel import DOWN, describe, open_channel, tls_credentials

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
    connection_outcome,
    load_tls,
    user_agent,
)
from kete_gcp.credentials import AccessTokens
from kete_gcp.settings import CLOUD_TASKS_SCOPE, CloudTasksSinkConfig

log = logging.getLogger("kete.gcp")

SERVICE = "/google.cloud.tasks.v2.CloudTasks"
# The generated protobuf classes under the proto-plus wrappers: serialized by generic unary calls.
CreateTaskRequest = cloudtasks.CreateTaskRequest.pb()
GetQueueRequest = cloudtasks.GetQueueRequest.pb()
ListQueuesRequest = cloudtasks.ListQueuesRequest.pb()
ListQueuesResponse = cloudtasks.ListQueuesResponse.pb()
Queue = queue.Queue.pb()
Task = task.Task.pb()
HttpRequest = target.HttpRequest.pb()

# A queue id: letters, digits and hyphens, at most 100 (Cloud Tasks' resource names).
_QUEUE = re.compile(r"^[A-Za-z0-9-]{1,100}$")
_HINT = "check authentication-type, the service-account key and its roles (roles/cloudtasks.enqueuer)"
_TRANSIENT = frozenset({
    grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.ABORTED, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.CANCELLED,
})  # fmt: skip

_USER_AGENT = user_agent("kete-gcp")


def _queue_value(value: str) -> str:
    if not _QUEUE.match(value):
        raise ValueError("a Cloud Tasks queue id holds only letters, digits and '-' (at most 100)")
    return value


class CloudTasksSink(Sink):
    """Creates one task per message; see the module documentation."""

    Config = CloudTasksSinkConfig
    config: CloudTasksSinkConfig

    def __init__(self, config: CloudTasksSinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        errors = [ConfigError(message, path=f"{context.path}.{setting}") for setting, message in config.problems()]
        # KETE reads the TLS material even when it is not used, so a bad store fails the route at load.
        try:
            material = load_tls(config.tls, f"{context.path}.tls")
        except ConfigErrors as exc:
            errors += exc.errors
        queue_id = config.queue.strip()
        self._queue = context.address("queue", queue_id, _queue_value)
        if queue_id and not self._queue.variables and not _QUEUE.match(queue_id):
            text = "not a Cloud Tasks queue id (1-100 letters, digits and '-')"
            errors.append(ConfigError(text, path=f"{context.path}.queue"))
        try:
            self._tokens = AccessTokens.of(config, CLOUD_TASKS_SCOPE, context.path)
        except ConfigError as exc:
            errors.append(exc)
        if errors:
            raise ConfigErrors(errors)
        self._credentials: grpc.ChannelCredentials | None = None
        if not config.use_plaintext:
            self._credentials = tls_credentials(material)
        self._location = f"projects/{config.project.strip()}/locations/{config.location.strip()}"
        self._headers = config.attributes()
        self._encoding = config.encoding
        self._limit = asyncio.Semaphore(config.max_concurrency)
        self._channel: grpc.aio.Channel | None = None
        self._session: aiohttp.ClientSession | None = None

    # ------------------------------------------------------------------ channel

    def _open(self) -> grpc.aio.Channel:
        if self._channel is None:
            self._channel = open_channel(self.config.endpoint.strip(), self._credentials, _USER_AGENT)
        return self._channel

    def _call(self, method: str, response: Any) -> Any:
        return self._open().unary_unary(
            f"{SERVICE}/{method}", request_serializer=lambda m: m.SerializeToString(), response_deserializer=response
        )

    async def _metadata(self, params: str) -> tuple[list[tuple[str, str]], str | None]:
        """The call's metadata: the routing parameter, and a bearer token when there are credentials."""
        metadata = [("x-goog-request-params", params)]
        if self._tokens is None:
            return metadata, None
        if self._session is None:
            self._session = aiohttp.ClientSession(headers={"User-Agent": _USER_AGENT})
        token = await self._tokens.token(self._session)
        return [*metadata, ("authorization", f"Bearer {token}")], token

    async def close(self) -> None:
        if self._channel is not None:
            channel, self._channel = self._channel, None
            await channel.close()
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def start(self) -> None:
        try:
            await self._probe()
        except BaseException:
            await self.close()
            raise

    async def _probe(self) -> None:
        if self._queue.variables:
            name, params = self._location, f"parent={self._location}"
            request: Any = ListQueuesRequest(parent=name, page_size=1)
            call = self._call("ListQueues", ListQueuesResponse.FromString)
        else:
            name = f"{self._location}/queues/{self.config.queue.strip()}"
            params, request = f"name={name}", GetQueueRequest(name=name)
            call = self._call("GetQueue", Queue.FromString)
        try:
            metadata, _ = await self._metadata(params)
            await call(request, metadata=metadata, timeout=self.config.timeout_seconds)
        except TokenError as exc:
            raise Unavailable(str(exc)) from None
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            # Connected, without the right to read the queue; creating tasks may still be allowed (as KETE).
            if code == grpc.StatusCode.PERMISSION_DENIED:
                return
            if code in DOWN:
                raise Unavailable(describe(name, exc)) from None
            if code == grpc.StatusCode.UNAUTHENTICATED:
                text = f"the service refused kete's credentials: {describe(name, exc)} ({_HINT})"
                raise PermanentError(text) from None
            raise PermanentError(describe(name, exc)) from None

    # ------------------------------------------------------------------ sending

    def _request(self, parent: str, message: Message) -> Any:
        event = message.event
        headers = self._headers | {
            "eventkind": event.kind,
            "eventtype": event.event_type,
            "contenttype": message.content_type,
        }
        request = HttpRequest(
            url=self.config.target_url.strip(),
            http_method=self.config.method,
            headers=headers,
            body=self._encoding.encode(message.payload),
        )
        return CreateTaskRequest(parent=parent, task=Task(http_request=request))

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        queues = self._queue.render_all([message.event for message in messages])
        results: list[BaseException | None] = [None] * len(messages)
        calls = []
        for index, (message, queue_id) in enumerate(zip(messages, queues, strict=True)):
            if isinstance(queue_id, RenderError):
                results[index] = queue_id
            elif not _QUEUE.match(queue_id):
                results[index] = PermanentError(f"{queue_id!r} is not a Cloud Tasks queue id")
            else:
                calls.append(self._deliver(index, f"{self._location}/queues/{queue_id}", message, results))
        await asyncio.gather(*calls)
        return connection_outcome(results)

    async def _deliver(self, index: int, parent: str, message: Message, results: list[BaseException | None]) -> None:
        async with self._limit:
            try:
                results[index] = await self._create(parent, self._request(parent, message))
            except Exception as exc:  # a bug must fail this event only, not the others in flight
                log.exception("gcp-cloud-tasks sink: unexpected failure")
                results[index] = exc

    async def _create(self, parent: str, request: Any) -> Exception | None:
        call = self._call("CreateTask", Task.FromString)
        for attempt in (1, 2):
            try:
                metadata, token = await self._metadata(f"parent={parent}")
            except TokenError as exc:
                return ConnectionLost(str(exc))
            except PermanentError as exc:
                return exc
            try:
                await call(request, metadata=metadata, timeout=self.config.timeout_seconds)
            except grpc.aio.AioRpcError as exc:
                code = exc.code()
                if code == grpc.StatusCode.UNAUTHENTICATED and token is not None and attempt == 1:
                    assert self._tokens is not None
                    self._tokens.invalidate(token)  # expired or revoked: once more with a fresh one
                    continue
                text = describe(parent, exc)
                if code in DOWN:
                    return ConnectionLost(text)
                if code in _TRANSIENT:
                    return KeteError(text)
                if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
                    return PermanentError(f"the service refused kete's credentials: {text} ({_HINT})")
                return PermanentError(text)
            return None
        return None  # not reached: the second attempt returns
