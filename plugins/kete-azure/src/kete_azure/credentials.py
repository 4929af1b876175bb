"""KETE's token authentication for the Azure sinks, as its ``AzureUtils`` offers it:
``authentication-type = managed-identity`` (a system-assigned identity, or the user-assigned one named by
``managed-identity-client-id``) and ``authentication-type = default-azure-credential`` (azure-identity's
chain: environment, workload identity, managed identity, developer tools), besides each kind's own
credential (``connection-string``, ``access-key``).

:class:`AzureIdentitySettings` is the settings mixin every Azure sink's config inherits, with KETE's
cross-checks; :func:`token_credential` makes azure-identity's asynchronous credential from it (close it
with the sink), which raises :class:`TokenUnavailable` with a one-line reason when it has no token;
:class:`BearerToken` keeps one token for a sink that calls a REST API without the SDK. The requests to
the identity endpoint are logged to ``kete.azure.sdk`` (warnings only), as the SDK clients' (transport.py);
azure-identity's own lines are one per token (INFO) and one per failure (WARNING).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, cast

from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions
from azure.core.credentials_async import AsyncSupportsTokenInfo, AsyncTokenCredential
from azure.core.exceptions import AzureError, ClientAuthenticationError
from pydantic import BeforeValidator

from kete_azure.transport import SDK_LOG
from kete_core import ComponentConfig, Duration

MANAGED_IDENTITY = "managed-identity"
DEFAULT_AZURE_CREDENTIAL = "default-azure-credential"
TOKEN_AUTHENTICATION_TYPES = (MANAGED_IDENTITY, DEFAULT_AZURE_CREDENTIAL)
"""The ``authentication-type`` values that authenticate with Microsoft Entra tokens."""

REFRESH_MARGIN = 300.0
"""Seconds before its expiry a kept token is replaced (azure-core's bearer policy does the same)."""


def _choice(value: object) -> object:
    """KETE reads ``authentication-type`` trimmed and lower-cased; blank is not set."""
    if isinstance(value, str):
        return value.strip().lower() or None
    return value


class AzureIdentitySettings(ComponentConfig):
    """``authentication-type`` and ``managed-identity-client-id``, with KETE's checks
    (:meth:`authentication_problems`). A sink's config inherits it and names its own credential in
    ``PRIMARY_AUTHENTICATION`` (the setting and the ``authentication-type`` value, the same word in KETE)."""

    PRIMARY_AUTHENTICATION: ClassVar[str] = "connection-string"

    authentication_type: Annotated[str | None, BeforeValidator(_choice)] = None
    """The kind's own credential (``PRIMARY_AUTHENTICATION``), ``managed-identity`` or
    ``default-azure-credential``; unset: the kind's own credential, which must then be given."""
    managed_identity_client_id: str | None = None
    """The client id of a user-assigned managed identity; unset: the system-assigned identity."""

    @property
    def token_authentication(self) -> bool:
        """Whether the sink authenticates with tokens from :func:`token_credential`."""
        return self.authentication_type in TOKEN_AUTHENTICATION_TYPES

    def credentials_hint(self, own: str) -> str:
        """What to check when the service refuses the credentials: *own* (the kind's own credential, as
        the user set it), or the identity's role assignments with token authentication."""
        return f"the {self.authentication_type} identity's role assignments" if self.token_authentication else own

    def authentication_problems(
        self, primary_given: bool, required: Mapping[str, str | None] | None = None
    ) -> list[tuple[str, str]]:
        """(setting, message) pairs, KETE's words: *primary_given* says whether the kind's own credential
        is set; *required* maps the settings token authentication needs (``endpoint``,
        ``fully-qualified-namespace``) to their values."""
        primary = self.PRIMARY_AUTHENTICATION
        kind = self.authentication_type
        if kind is None:
            return [] if primary_given else [(primary, f"'{primary}' or 'authentication-type' must be set")]
        found = []
        if primary_given and kind != primary:
            found.append((primary, f"'{primary}' cannot be set when 'authentication-type' is '{kind}'"))
        if kind == primary:
            if not primary_given:
                found.append((primary, f"{primary} is required when authentication-type is '{primary}'"))
        elif kind in TOKEN_AUTHENTICATION_TYPES:
            found += self.token_problems(required or {})
        else:
            found.append(self.unsupported_authentication())
        return found

    def token_problems(self, required: Mapping[str, str | None]) -> list[tuple[str, str]]:
        """KETE's words for each of the settings token authentication needs (*required*, names to
        values) that is blank."""
        kind = self.authentication_type
        return [
            (setting, f"{setting} is required when authentication-type is '{kind}'")
            for setting, value in required.items()
            if not (value or "").strip()
        ]

    def unsupported_authentication(self) -> tuple[str, str]:
        """KETE's error for an ``authentication-type`` the kind does not offer."""
        options = ", ".join((self.PRIMARY_AUTHENTICATION, *TOKEN_AUTHENTICATION_TYPES))
        kind = self.authentication_type
        return ("authentication-type", f"unsupported authentication-type: '{kind}' — valid options: {options}")

    def https_problems(self, setting: str, url: str | None) -> list[tuple[str, str]]:
        """With token authentication, *url* must be ``https``: tokens go over TLS only (azure-core refuses
        to send them otherwise, as KETE's Java SDK)."""
        if self.token_authentication and (url or "").strip().lower().startswith("http://"):
            kind = self.authentication_type
            return [(setting, f"{setting} must be an https URL when authentication-type is '{kind}'")]
        return []


class TokenUnavailable(ClientAuthenticationError):
    """No token could be had: the identity endpoint refused the request or is out of reach. The message
    says which ``authentication-type`` and why, in one line."""


class KeteTokenCredential:
    """azure-identity's credential for KETE's *authentication_type*, raising :class:`TokenUnavailable`
    for whatever keeps it from a token (azure-identity raises ``ClientAuthenticationError`` for a refusal,
    ``ServiceRequestError`` for an endpoint out of reach); an ``AsyncTokenCredential`` for the SDK clients."""

    def __init__(self, credential: AsyncTokenCredential, authentication_type: str) -> None:
        self.credential = credential
        self.authentication_type = authentication_type

    def _unavailable(self, exc: Exception) -> TokenUnavailable:
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        lines = [line.strip() for line in str(message).splitlines() if line.strip()]
        # DefaultAzureCredential lists every step; the managed-identity one is what kete set up.
        managed = [line for line in lines if line.startswith("ManagedIdentityCredential:")]
        reason = " ".join(lines[:1] + managed[:1])
        return TokenUnavailable(f"no token from {self.authentication_type}: {reason}")

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        try:
            return await self.credential.get_token(*scopes, **kwargs)
        except AzureError as exc:
            raise self._unavailable(exc) from exc

    async def get_token_info(self, *scopes: str, options: TokenRequestOptions | None = None) -> AccessTokenInfo:
        try:
            return await cast("AsyncSupportsTokenInfo", self.credential).get_token_info(*scopes, options=options)
        except AzureError as exc:
            raise self._unavailable(exc) from exc

    async def close(self) -> None:
        await self.credential.close()

    async def __aenter__(self) -> KeteTokenCredential:
        return self

    async def __aexit__(self, *args: object) -> None:
        await self.close()


def token_credential(settings: AzureIdentitySettings, timeout: Duration) -> KeteTokenCredential:
    """azure-identity's asynchronous credential for *settings* (``token_authentication`` must be true):
    ``ManagedIdentityCredential`` (with ``managed-identity-client-id``) or ``DefaultAzureCredential``
    (whose managed-identity step takes ``AZURE_CLIENT_ID``, as KETE's). Each request to the identity
    endpoint waits at most *timeout* and is not retried (kete retries); closing it is the caller's."""
    from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential

    kind = settings.authentication_type
    options = {"logger": SDK_LOG, "retry_total": 0, "connection_timeout": timeout, "read_timeout": timeout}
    if kind == MANAGED_IDENTITY:
        client_id = (settings.managed_identity_client_id or "").strip() or None
        return KeteTokenCredential(ManagedIdentityCredential(client_id=client_id, **options), kind)
    if kind == DEFAULT_AZURE_CREDENTIAL:
        return KeteTokenCredential(DefaultAzureCredential(**options), kind)
    raise ValueError(f"authentication-type {kind!r} does not use token credentials")


class BearerToken:
    """One scope's token from *credential*, for a sink calling a REST API itself: fetched on first use,
    kept, and fetched again :data:`REFRESH_MARGIN` seconds before it expires; ``fetches`` counts the
    requests to the credential."""

    def __init__(self, credential: KeteTokenCredential, scope: str) -> None:
        self.credential = credential
        self.scope = scope
        self.fetches = 0
        self._token: AccessToken | None = None
        self._lock = asyncio.Lock()

    def _valid(self) -> str | None:
        token = self._token
        if token is not None and token.expires_on - REFRESH_MARGIN > time.time():
            return token.token
        return None

    async def header(self) -> str:
        """The ``Authorization`` header's value, ``Bearer <token>``; :class:`TokenUnavailable` when the
        identity endpoint refuses or is out of reach."""
        token = self._valid()
        if token is None:
            async with self._lock:
                token = self._valid()
                if token is None:
                    self.fetches += 1
                    self._token = await self.credential.get_token(self.scope)
                    token = self._token.token
        return f"Bearer {token}"
