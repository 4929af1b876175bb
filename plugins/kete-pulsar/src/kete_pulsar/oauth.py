"""OAuth 2.0 client credentials for Pulsar: the token the client presents, fetched and cached here.

The Pulsar client asks for a token on its own I/O thread whenever it (re)connects, so the fetch is
synchronous. A token is cached and fetched again 30 seconds before it expires (a response without
``expires_in`` counts as one hour), as KETE's ``JwtUtils.CachedTokenHolder`` does.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from kete_pulsar.settings import OAuthSettings

log = logging.getLogger("kete.pulsar")

REFRESH_MARGIN = 30.0
DEFAULT_LIFETIME = 3600.0


class TokenError(Exception):
    """The token endpoint did not give a token."""


class ClientCredentials:
    """Fetches and caches an access token; call the instance for the current one."""

    def __init__(self, settings: OAuthSettings) -> None:
        self.settings = settings
        self.url = settings.resolved_token_url
        secret = settings.client_secret.get_secret_value() if settings.client_secret else ""
        pair = f"{settings.resolved_client_id}:{secret}".encode()
        self._authorization = "Basic " + base64.b64encode(pair).decode("ascii")
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires:
                self._token, lifetime = self._fetch()
                margin = REFRESH_MARGIN if lifetime > 2 * REFRESH_MARGIN else lifetime / 2
                self._expires = time.monotonic() + lifetime - margin
            return self._token

    def _fetch(self) -> tuple[str, float]:
        form = {"grant_type": "client_credentials"}
        if self.settings.scope:
            form["scope"] = self.settings.scope
        request = urllib.request.Request(
            self.url,
            data=urllib.parse.urlencode(form).encode(),
            headers={"Authorization": self._authorization, "Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout_seconds) as answer:
                body = json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            raise TokenError(f"the token endpoint {self.url} answered {exc.code}") from None
        except (OSError, ValueError) as exc:
            raise TokenError(f"no token from {self.url}: {exc}") from None
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise TokenError(f"the token endpoint {self.url} gave no access_token")
        lifetime = body.get("expires_in")
        return token, float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else DEFAULT_LIFETIME

    def supplier(self) -> str:
        """The token for the Pulsar client; an empty one (refused by the broker) when none can be had."""
        try:
            return self()
        except TokenError as exc:
            log.error("%s", exc)
            return ""
