"""Shared access signatures of Azure Event Hubs and Service Bus, checked as the services check them:
``SharedAccessSignature sr=<url-encoded resource>&sig=<url-encoded Base64 HMAC-SHA256>&se=<expiry>&skn=<policy>``
where the signature is the HMAC-SHA256, with the named policy's key, of ``<sr as sent>\\n<se>``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlsplit

PREFIX = "SharedAccessSignature "


def sign(resource: str, policy: str, key: str, expiry: int | None = None) -> str:
    """A token for *resource* (``sb://<namespace>/<entity>``) signed with *policy*'s *key*, as the SDKs
    make them (for tests that need a token of their own: expired, for another entity)."""
    expiry = int(time.time()) + 3600 if expiry is None else expiry
    encoded = quote_plus(resource)
    digest = hmac.new(key.encode(), f"{encoded}\n{expiry}".encode(), hashlib.sha256).digest()
    return f"{PREFIX}sr={encoded}&sig={quote(base64.b64encode(digest).decode(), safe='')}&se={expiry}&skn={policy}"


def covers(resource: str, entity: str) -> bool:
    """Whether a token for *resource* (a URL, its path an entity or a prefix of one) grants *entity*
    (``hub``, ``hub/Partitions/0``, ``topic/subscriptions/s``); case-insensitive, as the services compare."""
    granted = urlsplit(resource if "://" in resource else f"sb://{resource}").path.strip("/").lower()
    wanted = entity.strip("/").lower()
    return not granted or wanted == granted or wanted.startswith(f"{granted}/")


def refusal(
    token: str, audience: str, keys: dict[str, str], hosts: frozenset[str], now: float | None = None
) -> str | None:
    """Why the service would refuse *token* for *audience* (the put-token ``name``), or None if it grants it.

    *keys*: each shared access policy's key by name; *hosts*: the host names (without port) the namespace
    answers to."""
    if not token.startswith(PREFIX):
        return "InvalidSignature: not a SharedAccessSignature"
    fields: dict[str, str] = {}
    for part in token[len(PREFIX) :].split("&"):
        name, _, value = part.partition("=")
        fields[name.strip()] = value
    missing = [name for name in ("sr", "sig", "se", "skn") if not fields.get(name)]
    if missing:
        return f"InvalidSignature: the token lacks {', '.join(missing)}"
    key = keys.get(fields["skn"])
    if key is None:
        return f"InvalidSignature: no shared access policy {fields['skn']!r}"
    expected = hmac.new(key.encode(), f"{fields['sr']}\n{fields['se']}".encode(), hashlib.sha256).digest()
    try:
        given = base64.b64decode(unquote(fields["sig"]), validate=True)
    except ValueError:
        return "InvalidSignature: the signature is not Base64"
    if not hmac.compare_digest(given, expected):
        return "InvalidSignature: the token's signature does not match the policy's key"
    if not fields["se"].isdigit() or int(fields["se"]) < (time.time() if now is None else now):
        return "ExpiredToken: the token's se is past"
    resource = unquote_plus(fields["sr"])
    host = urlsplit(resource if "://" in resource else f"sb://{resource}").hostname or ""
    if host.lower() not in hosts:
        return f"InvalidAudience: the token is for {host!r}, not this namespace"
    audience_path = urlsplit(audience if "://" in audience else f"sb://{audience}").path
    if not covers(resource, audience_path):
        return f"InvalidAudience: the token for {resource!r} does not cover {audience!r}"
    return None
