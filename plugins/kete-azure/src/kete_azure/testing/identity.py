"""A managed identity endpoint for tests, on aiohttp (127.0.0.1, a free port), as Azure App Service runs
one for its apps: azure-identity's ``ManagedIdentityCredential`` uses it when the environment names it
(``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER``, :meth:`IdentityEndpoint.environment`), and so does
``DefaultAzureCredential`` through its managed-identity step.

For ``DefaultAzureCredential`` to reach it, the steps before that one must have nothing to go on: the
variables of :data:`OTHER_CREDENTIALS` (a service principal, workload identity, the other managed-identity
kinds, ``AZURE_TOKEN_CREDENTIALS``) must be absent, not only blank (the tests' ``identity`` fixture removes
them, so ``kete run`` started by a test inherits their absence); ``AZURE_CLIENT_ID`` among them, which
``DefaultAzureCredential`` takes as its managed identity's client id. The steps after it (Visual Studio
Code, Azure CLI, PowerShell, Azure Developer CLI) are not asked while the endpoint answers. With the
endpoint stopped they are: a logged-in ``az`` would then give its own token, so the tests of an endpoint
out of reach use ``managed-identity``.

Each request is checked as App Service does: ``GET`` with ``api-version=2019-08-01``, ``resource`` and
an optional ``client_id``, and the ``X-IDENTITY-HEADER`` secret (401 otherwise). A resource it does not
serve or a client id it does not know is refused (400, with the service's message). A token is an RS256
JWT signed with the endpoint's own key: ``aud`` the resource, ``iss`` ``https://sts.windows.net/<tenant>/``
(as Azurite's ``--oauth basic`` wants it), ``appid``/``oid`` the identity, ``iat``/``nbf``/``exp``. The test
services check tokens with :meth:`IdentityEndpoint.verify` (signature, audience, lifetime).
"""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass, field

import orjson
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kete_azure.testing import serving

EVENT_GRID = "https://eventgrid.azure.net"
WEB_PUBSUB = "https://webpubsub.azure.com"
STORAGE = "https://storage.azure.com"
EVENT_HUBS = "https://eventhubs.azure.net"
SERVICE_BUS = "https://servicebus.azure.net"
RESOURCES = (EVENT_GRID, WEB_PUBSUB, STORAGE, EVENT_HUBS, SERVICE_BUS)
"""The resources the endpoint issues tokens for (each service's audience)."""

SYSTEM_ASSIGNED = "system-assigned"
"""The ``client_id`` a request without one is recorded with."""

_API_VERSION = "2019-08-01"
OTHER_CREDENTIALS = (
    "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_USERNAME",
    "AZURE_FEDERATED_TOKEN_FILE", "AZURE_TOKEN_CREDENTIALS", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT",
    "IDENTITY_SERVER_THUMBPRINT",
)  # fmt: skip
"""Variables that would make azure-identity use another credential than the endpoint's."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class TokenRequest:
    """A request the endpoint answered: the resource and client id asked for, and its status."""

    resource: str
    client_id: str
    status: int


@dataclass
class IdentityEndpoint:
    """An App Service managed identity endpoint; see the module documentation.

    ``client_ids`` are the user-assigned identities it knows (besides the system-assigned one); ``audience``,
    when set, is put in every token instead of the requested resource (a token the services refuse);
    ``lifetime`` is each token's in seconds. ``requests`` records what was asked, ``issued`` the tokens."""

    client_ids: tuple[str, ...] = ("kete-user-assigned",)
    audience: str | None = None
    lifetime: int = 3600
    secret: str = field(default_factory=lambda: uuid.uuid4().hex)
    tenant: str = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    requests: list[TokenRequest] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    port: int = 0
    _key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048), repr=False)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/msi/token"

    def environment(self) -> dict[str, str]:
        """The variables that lead azure-identity here (with those of :data:`OTHER_CREDENTIALS` absent)."""
        return {"IDENTITY_ENDPOINT": self.url, "IDENTITY_HEADER": self.secret}

    def token(self, resource: str, client_id: str) -> str:
        """A signed token for *resource* (or ``audience``) and the identity *client_id*."""
        now = int(time.time())
        claims = {
            "aud": self.audience or resource,
            "iss": f"https://sts.windows.net/{self.tenant}/",
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime,
            "appid": client_id,
            "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, client_id)),
            "sub": client_id,
            "tid": self.tenant,
        }
        header = {"alg": "RS256", "typ": "JWT", "kid": "kete-test"}
        signed = f"{_b64url(orjson.dumps(header))}.{_b64url(orjson.dumps(claims))}"
        signature = self._key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signed}.{_b64url(signature)}"

    def verify(self, authorization: str | None, audience: str) -> dict | None:
        """The claims of an ``Authorization: Bearer`` value this endpoint signed for *audience* (with or
        without a trailing ``/``) and not expired; None for anything else."""
        scheme, _, token = (authorization or "").partition(" ")
        parts = token.split(".")
        if scheme != "Bearer" or len(parts) != 3:
            return None
        try:
            self._key.public_key().verify(
                _unb64url(parts[2]), f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
            header = orjson.loads(_unb64url(parts[0]))
            claims = orjson.loads(_unb64url(parts[1]))
        except (InvalidSignature, ValueError, orjson.JSONDecodeError):
            return None
        now = time.time()
        if header.get("alg") != "RS256" or str(claims.get("aud", "")).rstrip("/") != audience.rstrip("/"):
            return None
        if not claims.get("nbf", now + 1) <= now < claims.get("exp", 0):
            return None
        return claims

    async def _token(self, request: web.Request) -> web.Response:
        resource = request.query.get("resource", "").rstrip("/")
        client_id = request.query.get("client_id", "") or SYSTEM_ASSIGNED
        status, body = self._answer(request, resource, client_id)
        self.requests.append(TokenRequest(resource, client_id, status))
        return web.json_response(body, status=status)

    def _answer(self, request: web.Request, resource: str, client_id: str) -> tuple[int, dict]:
        if request.headers.get("X-IDENTITY-HEADER") != self.secret:
            return 401, {"statusCode": 401, "message": "Unauthorized: the X-IDENTITY-HEADER is missing or wrong"}
        if request.query.get("api-version") != _API_VERSION:
            return 400, {"statusCode": 400, "message": f"api-version must be {_API_VERSION}"}
        if resource not in RESOURCES:
            return 400, {
                "statusCode": 400,
                "message": f"AADSTS500011: The resource principal named {resource} was not found in the tenant",
            }
        if client_id != SYSTEM_ASSIGNED and client_id not in self.client_ids:
            return 400, {
                "statusCode": 400,
                "message": "No User Assigned or Delegated Managed Identity found for specified ClientId",
            }
        token = self.token(resource, client_id)
        self.issued.append(token)
        return 200, {
            "access_token": token,
            "expires_on": str(int(time.time()) + self.lifetime),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": client_id,
        }

    async def start(self) -> IdentityEndpoint:
        app = web.Application()
        app.router.add_get("/msi/token", self._token)
        self.port, self._runner = await serving.serve(app, self.port)
        return self

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        await serving.stop(runner)
