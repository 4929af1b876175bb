"""KETE's GCP credentials as access tokens: a service-account JSON key (an RS256-signed JWT exchanged
at the key's ``token_uri``, RFC 7523), or application default credentials (the file named by
``GOOGLE_APPLICATION_CREDENTIALS`` or gcloud's ``application_default_credentials.json``, holding a
service-account key or a user's refresh token; else the metadata server of a GCP machine).

A token is fetched on first use, cached, and fetched again a minute before it expires; a token the
service refuses is forgotten so that the next attempt fetches a fresh one.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kete_core import ConfigError, PermanentError, TokenError, redact
from kete_gcp.settings import GcpSettings

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
_METADATA_TOKEN = "/computeMetadata/v1/instance/service-accounts/default/token"
_REFRESH_MARGIN = 60.0
_LIFETIME = 3600
_HINT = "check authentication-type and the service-account key (credentials-file-*)"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class _Grant:
    """How one kind of credential asks for a token: the URL, the form, the headers."""

    def __init__(self, url: str, form: Mapping[str, str] | None, headers: Mapping[str, str] | None = None) -> None:
        self.url = url
        self.form = form
        self.headers = dict(headers or {})

    def request(self) -> tuple[str, dict[str, str] | None]:
        return self.url, dict(self.form) if self.form is not None else None


class _ServiceAccount(_Grant):
    def __init__(self, key: Mapping[str, Any], scope: str, where: str) -> None:
        try:
            self.email = str(key["client_email"])
            private_key = serialization.load_pem_private_key(str(key["private_key"]).encode(), password=None)
        except KeyError as exc:
            raise ConfigError(f"not a service-account key: it has no {exc.args[0]!r}", path=where) from None
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"the service-account key's private_key cannot be read: {exc}", path=where) from None
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise ConfigError("the service-account key's private_key is not an RSA key", path=where)
        self.key = private_key
        self.key_id = key.get("private_key_id")
        self.scope = scope
        super().__init__(str(key.get("token_uri") or GOOGLE_TOKEN_URI), None)

    def request(self) -> tuple[str, dict[str, str] | None]:
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT"} | ({"kid": self.key_id} if self.key_id else {})
        claims = {"iss": self.email, "scope": self.scope, "aud": self.url, "iat": now, "exp": now + _LIFETIME}
        signed = f"{_b64url(orjson.dumps(header))}.{_b64url(orjson.dumps(claims))}"
        signature = self.key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
        assertion = f"{signed}.{_b64url(signature)}"
        return self.url, {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}


def _parse_key(data: bytes, where: str) -> dict[str, Any]:
    try:
        key = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"the credentials are not JSON: {exc}", path=where) from None
    if not isinstance(key, dict):
        raise ConfigError("the credentials are not a JSON object", path=where)
    return key


def _from_file(key: Mapping[str, Any], scope: str, where: str) -> _Grant:
    kind = key.get("type")
    if kind == "service_account":
        return _ServiceAccount(key, scope, where)
    if kind == "authorized_user":
        try:
            form = {
                "grant_type": "refresh_token",
                "client_id": str(key["client_id"]),
                "client_secret": str(key["client_secret"]),
                "refresh_token": str(key["refresh_token"]),
            }
        except KeyError as exc:
            raise ConfigError(f"authorized_user credentials without {exc.args[0]!r}", path=where) from None
        return _Grant(str(key.get("token_uri") or GOOGLE_TOKEN_URI), form)
    raise ConfigError(f"credentials of type {kind!r} are not supported (service_account, authorized_user)", path=where)


def _application_default(scope: str, where: str) -> _Grant:
    named = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS", "").strip()
    config_dir = os.environ.get("CLOUDSDK_CONFIG") or Path.home() / ".config" / "gcloud"
    gcloud = Path(config_dir) / "application_default_credentials.json"
    path = Path(named) if named else gcloud if gcloud.is_file() else None
    if path is None:
        host = os.environ.get("GCE_METADATA_HOST", "metadata.google.internal")
        return _Grant(f"http://{host}{_METADATA_TOKEN}", None, {"Metadata-Flavor": "Google"})
    try:
        data = path.read_bytes()
    except OSError as exc:
        text = f"cannot read the application default credentials {path}: {exc.strerror}"
        raise ConfigError(text, path=where) from None
    return _from_file(_parse_key(data, f"{where} ({path})"), scope, f"{where} ({path})")


def _grant(settings: GcpSettings, scope: str, path: str) -> _Grant | None:
    kind = settings.authentication_type
    where = f"{path}.authentication-type"
    if not kind:
        return None
    if kind == "application-default":
        return _application_default(scope, where)
    sources = settings.credential_sources()
    setting = "credentials-" + kind.removeprefix("service-account-")
    where = f"{path}.{setting}"
    value = sources[setting]
    if setting == "credentials-file-path":
        try:
            data = Path(value).read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read {value}: {exc.strerror}", path=where) from None
    elif setting == "credentials-file-base64":
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError("not Base64", path=where) from None
    else:
        data = value.encode()
    key = _parse_key(data, where)
    if key.get("type", "service_account") != "service_account":
        raise ConfigError(f"not a service-account key (type {key.get('type')!r})", path=where)
    return _ServiceAccount(key, scope, where)


class AccessTokens:
    """Access tokens for *scope* from a sink's credential settings; None from :meth:`of` when
    ``authentication-type`` is not set (an emulator takes requests without one).

    :ivar fetches: tokens fetched so far.
    """

    def __init__(self, grant: _Grant, timeout: float) -> None:
        self._grant = grant
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.fetches = 0

    @classmethod
    def of(cls, settings: GcpSettings, scope: str, path: str) -> AccessTokens | None:
        """The credentials the settings under *path* name, read now; :class:`ConfigError` when unusable."""
        grant = _grant(settings, scope, path)
        return cls(grant, settings.timeout_seconds) if grant is not None else None

    def _valid(self) -> str | None:
        if self._token is not None and time.monotonic() < self._expires_at:
            return self._token
        return None

    async def token(self, session: aiohttp.ClientSession) -> str:
        """A valid access token; :class:`TokenError` when the token endpoint is out of reach, a
        :class:`PermanentError` when it refuses the credentials."""
        token = self._valid()
        if token is None:
            async with self._lock:
                token = self._valid() or await self._fetch(session)
        return token

    def invalidate(self, token: str) -> None:
        """Forget *token* (the service refused it) unless a newer one replaced it."""
        if self._token == token:
            self._token = None

    async def _fetch(self, session: aiohttp.ClientSession) -> str:
        url, form = self._grant.request()
        headers = {"Accept": "application/json", **self._grant.headers}
        try:
            if form is None:
                request = session.get(url, headers=headers, timeout=self._timeout)
            else:
                request = session.post(url, data=form, headers=headers, timeout=self._timeout)
            async with request as response:
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TokenError(redact(f"GCP token endpoint {url}: {type(exc).__name__}: {exc}")) from exc
        self.fetches += 1
        text = body[:300].decode(errors="replace").strip()
        if status != 200:
            message = redact(f"GCP token endpoint {url} answered HTTP {status}: {text}")
            if 400 <= status < 500 and status not in (408, 429):
                raise PermanentError(f"{message} ({_HINT})")
            raise TokenError(message)
        try:
            payload = orjson.loads(body)
            token = payload["access_token"]
            lifetime = float(payload.get("expires_in") or _LIFETIME)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise PermanentError(redact(f"GCP token endpoint {url} sent no access_token: {text}")) from None
        if not isinstance(token, str) or not token:
            raise PermanentError(redact(f"GCP token endpoint {url} sent no access_token: {text}"))
        self._token = token
        self._expires_at = time.monotonic() + lifetime - min(_REFRESH_MARGIN, lifetime / 2)
        return token
