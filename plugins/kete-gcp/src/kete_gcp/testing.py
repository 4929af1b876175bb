"""A Cloud Tasks gRPC server (:class:`CloudTasksServer`) and a Pub/Sub REST server on 127.0.0.1 for tests
and benchmarks. The Pub/Sub one, where the emulator (shipped with gcloud) cannot be installed:
``topics.get``, ``topics.list`` and ``topics.publish`` checked as the service checks them (the topic
exists, 1-1000 messages, Base64 data, attribute and ordering-key limits, a bearer token it issued), and a
Google token endpoint taking RS256 JWT assertions (RFC 7523) signed by a service-account key it made
(:meth:`PubSubServer.service_account`)."""

from __future__ import annotations

import base64
import binascii
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import grpc.aio
import orjson
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kete_gcp.cloudtasks import (
    CreateTaskRequest,
    GetQueueRequest,
    ListQueuesRequest,
    ListQueuesResponse,
    Queue,
    Task,
)

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_MAX_MESSAGES = 1000
_MAX_REQUEST = 10_000_000


@dataclass
class Published:
    """One message as the service stored it."""

    topic: str
    data: bytes
    attributes: dict[str, str]
    ordering_key: str
    message_id: str


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": status, "message": message, "status": code}}, status=status)


def _unb64(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(padded.encode()) if "-" in text or "_" in text else base64.b64decode(padded)


@dataclass
class PubSubServer:
    """The server; ``topics`` are the ids of ``project`` that exist. ``refuse`` picks a message the service
    refuses (400 INVALID_ARGUMENT for its whole request, as the service answers). ``authenticate``:
    requests need a token this server issued."""

    project: str = "kete-test"
    topics: set[str] = field(default_factory=set)
    authenticate: bool = True
    refuse: Callable[[Published], bool] | None = None
    published: list[Published] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    """The topic of each publish request."""
    issued: list[str] = field(default_factory=list)
    port: int = 0
    runner: web.AppRunner | None = None
    _key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def service_account(self, *, key: rsa.RSAPrivateKey | None = None) -> dict[str, Any]:
        """A service-account JSON key whose tokens come from this server (signed by *key*: another key
        makes credentials the server refuses)."""
        pem = (key or self._key).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return {
            "type": "service_account",
            "project_id": self.project,
            "private_key_id": "k1",
            "private_key": pem.decode(),
            "client_email": f"kete@{self.project}.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": self.token_uri,
        }

    def app(self) -> web.Application:
        app = web.Application(client_max_size=_MAX_REQUEST + 1_000_000)
        app.router.add_post("/token", self._token)
        app.router.add_get("/v1/projects/{project}/topics", self._list)
        app.router.add_route("*", "/v1/projects/{project}/topics/{name}", self._topic)
        return app

    async def start(self) -> PubSubServer:
        self.runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=0.2)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        self.port = self.runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    # ------------------------------------------------------------------ tokens

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != JWT_BEARER:
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        try:
            head, claims, signature = str(form["assertion"]).split(".")
            self._key.public_key().verify(
                _unb64(signature), f"{head}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
            header, payload = orjson.loads(_unb64(head)), orjson.loads(_unb64(claims))
        except (KeyError, ValueError, binascii.Error, InvalidSignature, orjson.JSONDecodeError):
            return web.json_response(
                {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, status=400
            )
        now = time.time()
        if (
            header.get("alg") != "RS256"
            or payload.get("aud") != self.token_uri
            or not str(payload.get("iss", "")).endswith(".iam.gserviceaccount.com")
            or "https://www.googleapis.com/auth/" not in str(payload.get("scope", ""))
            or not payload.get("iat", 0) - 300 <= now <= payload.get("exp", 0)
        ):
            return web.json_response({"error": "invalid_grant", "error_description": "Invalid JWT claims."}, status=400)
        token = f"ya29.token-{len(self.issued) + 1}"
        self.issued.append(token)
        return web.json_response({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def _unauthenticated(self, request: web.Request) -> web.Response | None:
        if not self.authenticate:
            return None
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or token not in self.issued:
            return _error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        return None

    # ------------------------------------------------------------------ topics

    async def _list(self, request: web.Request) -> web.Response:
        refused = self._unauthenticated(request)
        if refused is not None:
            return refused
        if request.match_info["project"] != self.project:
            return _error(404, "NOT_FOUND", "Requested project not found")
        names = sorted(f"projects/{self.project}/topics/{topic}" for topic in self.topics)
        size = int(request.query.get("pageSize", "100"))
        return web.json_response({"topics": [{"name": name} for name in names[:size]]})

    async def _topic(self, request: web.Request) -> web.Response:
        refused = self._unauthenticated(request)
        if refused is not None:
            return refused
        topic, _, verb = request.match_info["name"].partition(":")
        if request.match_info["project"] != self.project or topic not in self.topics:
            return _error(404, "NOT_FOUND", f"Resource not found (resource={topic}).")
        if request.method == "GET" and not verb:
            return web.json_response({"name": f"projects/{self.project}/topics/{topic}"})
        if request.method != "POST" or verb != "publish":
            return _error(404, "NOT_FOUND", "Method not found.")
        return self._publish(topic, await request.read())

    def _publish(self, topic: str, body: bytes) -> web.Response:
        self.requests.append(topic)
        try:
            messages = orjson.loads(body)["messages"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return _error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        if not isinstance(messages, list) or not 1 <= len(messages) <= _MAX_MESSAGES:
            return _error(400, "INVALID_ARGUMENT", "The value for message_count is out of range.")
        accepted: list[Published] = []
        for message in messages:
            attributes = message.get("attributes") or {}
            key = message.get("orderingKey", "")
            try:
                data = base64.b64decode(message.get("data", ""), validate=True)
            except (binascii.Error, ValueError):
                return _error(400, "INVALID_ARGUMENT", "Invalid value at 'messages[].data' (TYPE_BYTES).")
            if not data and not attributes:
                return _error(400, "INVALID_ARGUMENT", "Some messages are empty (no data and no attributes).")
            for name, value in attributes.items():
                if not name or len(name.encode()) > 256 or name.startswith("goog") or len(value.encode()) > 1024:
                    return _error(400, "INVALID_ARGUMENT", f"Invalid attribute {name!r}.")
            if len(key.encode()) > 1024:
                return _error(400, "INVALID_ARGUMENT", "The ordering key is too long.")
            published = Published(topic, data, dict(attributes), key, str(next(self._ids)))
            if self.refuse is not None and self.refuse(published):
                return _error(400, "INVALID_ARGUMENT", f"Message refused: {data[:60].decode(errors='replace')}")
            accepted.append(published)
        self.published += accepted
        return web.json_response({"messageIds": [message.message_id for message in accepted]})


@dataclass
class CreatedTask:
    """One task as the Cloud Tasks server stored it: its queue id and its HTTP request."""

    queue: str
    url: str
    method: str
    headers: dict[str, str]
    body: bytes


@dataclass
class CloudTasksServer:
    """A Cloud Tasks gRPC server on 127.0.0.1 speaking the published protos (``google.cloud.tasks.v2``):
    ``CreateTask``, ``GetQueue`` and ``ListQueues``, checked as the service checks them (the parent names a
    queue of ``project`` and ``location`` that exists, ``x-goog-request-params`` names it, the task has an
    HTTP request with a URL). ``tokens``: the bearer tokens it takes (a :class:`PubSubServer`'s ``issued``,
    whose token endpoint then serves both); None: no credentials needed (an emulator). ``refuse`` picks a
    task the service refuses (``INVALID_ARGUMENT``)."""

    project: str = "kete-test"
    location: str = "europe-west1"
    queues: set[str] = field(default_factory=set)
    tokens: list[str] | None = None
    refuse: Callable[[CreatedTask], bool] | None = None
    tasks: list[CreatedTask] = field(default_factory=list)
    port: int = 0
    server: Any = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def location_name(self) -> str:
        return f"projects/{self.project}/locations/{self.location}"

    async def start(self) -> CloudTasksServer:
        handler = grpc.method_handlers_generic_handler(
            "google.cloud.tasks.v2.CloudTasks",
            {
                "CreateTask": grpc.unary_unary_rpc_method_handler(
                    self._create, CreateTaskRequest.FromString, Task.SerializeToString
                ),
                "GetQueue": grpc.unary_unary_rpc_method_handler(
                    self._get, GetQueueRequest.FromString, Queue.SerializeToString
                ),
                "ListQueues": grpc.unary_unary_rpc_method_handler(
                    self._list, ListQueuesRequest.FromString, ListQueuesResponse.SerializeToString
                ),
            },
        )
        self.server = grpc.aio.server()
        self.server.add_generic_rpc_handlers([handler])
        self.port = self.server.add_insecure_port(f"127.0.0.1:{self.port}")
        await self.server.start()
        return self

    async def stop(self) -> None:
        if self.server is not None:
            server, self.server = self.server, None
            await server.stop(0)

    async def _check(self, context: Any, params: str) -> None:
        metadata = dict(context.invocation_metadata())
        if self.tokens is not None:
            scheme, _, token = metadata.get("authorization", "").partition(" ")
            if scheme != "Bearer" or token not in self.tokens:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "Request had invalid authentication credentials.")
        if metadata.get("x-goog-request-params") != params:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"x-goog-request-params is not {params!r}")

    async def _queue(self, context: Any, name: str) -> str:
        prefix = f"{self.location_name}/queues/"
        queue = name.removeprefix(prefix)
        if not name.startswith(prefix) or queue not in self.queues:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"Queue does not exist: {name}")
        return queue

    async def _create(self, request: Any, context: Any) -> Any:
        await self._check(context, f"parent={request.parent}")
        queue = await self._queue(context, request.parent)
        http = request.task.http_request
        if not request.task.HasField("http_request") or not http.url:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Task.http_request.url is required")
        method = type(http).DESCRIPTOR.fields_by_name["http_method"].enum_type.values_by_number[http.http_method].name
        created = CreatedTask(queue, http.url, method, dict(http.headers), http.body)
        if self.refuse is not None and self.refuse(created):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"Task refused: {http.body[:60]!r}")
        self.tasks.append(created)
        return Task(name=f"{request.parent}/tasks/{len(self.tasks)}", http_request=http)

    async def _get(self, request: Any, context: Any) -> Any:
        await self._check(context, f"name={request.name}")
        await self._queue(context, request.name)
        return Queue(name=request.name)

    async def _list(self, request: Any, context: Any) -> Any:
        await self._check(context, f"parent={request.parent}")
        if request.parent != self.location_name:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"Location not found: {request.parent}")
        names = sorted(f"{self.location_name}/queues/{queue}" for queue in self.queues)
        return ListQueuesResponse(queues=[Queue(name=name) for name in names[: request.page_size or 100]])
