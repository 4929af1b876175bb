"""Settings of the ``keycloak-admin-api`` and ``keycloak-log`` sources."""

from __future__ import annotations

import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator

from kete_core import CommaList, ComponentConfig, Duration
from kete_keycloak.logparse import LOGGER

ALL_REALMS = "*"


class AdminApiSourceConfig(ComponentConfig):
    """Settings of the ``keycloak-admin-api`` source."""

    server: str
    """Keycloak's base URL, with any context path (``https://sso.example``, ``http://host:8080/auth``)."""
    realms: CommaList
    """Realm names to poll, or ``"*"`` for every realm the account can see (checked every ``realms-refresh``)."""
    client_id: str
    """A confidential client whose service account has ``view-events`` on each realm."""
    client_secret: SecretStr
    client_realm: str | None = None
    """The realm the client lives in; default: the only realm of ``realms``, else ``master``."""
    token_url: str | None = None
    """The token endpoint; default ``<server>/realms/<client-realm>/protocol/openid-connect/token``."""
    user_events: bool = True
    """Poll ``/events`` (user events)."""
    admin_events: bool = True
    """Poll ``/admin-events``."""
    event_types: CommaList = []
    """Only these user event types (Keycloak's ``type`` filter); default all that are stored."""
    operation_types: CommaList = []
    """Only these admin operations (``CREATE``, ``UPDATE``, ``DELETE``, ``ACTION``)."""
    resource_types: CommaList = []
    """Only these admin resource types (``USER``, ``CLIENT``, ``REALM_ROLE_MAPPING`` …)."""
    interval: Duration = 5.0
    """Time between polls of a stream."""
    settle_lag: Duration = 5.0
    """How far back each poll re-reads, for events that become visible late (slow commits, clock skew)."""
    page_size: int = Field(default=100, gt=0, le=10_000)
    """Events asked for per request (Keycloak's ``max``)."""
    max_page_size: int = Field(default=1000, gt=0, le=100_000)
    """How far a request may grow when a full page holds a single millisecond."""
    start_at: Literal["now", "beginning"] = "now"
    """Without a checkpoint: read only what happens from now on, or everything Keycloak still stores."""
    mode: Literal["auto", "ids", "legacy"] = "auto"
    """``ids`` for Keycloak 26.2+, ``legacy`` before; ``auto`` asks the server."""
    request_timeout: Duration = 30.0
    """Time for one HTTP request."""
    max_backoff: Duration = 60.0
    """Longest wait between attempts while Keycloak cannot be reached."""
    realms_refresh: Duration = 60.0
    """With ``realms = "*"``: how often to look for new realms."""
    max_seen: int = Field(default=50_000, gt=0)
    """Most event keys kept per stream for the settle-lag window (a larger burst may repeat events)."""
    tls_verify: bool = True
    """Check Keycloak's certificate."""
    ca_file: str | None = None
    """PEM file of the CA that signed Keycloak's certificate, trusted besides the system's CAs."""

    @field_validator("server")
    @classmethod
    def _server_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("realms")
    @classmethod
    def _realm_list(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one realm, or '*' for all")
        if ALL_REALMS in value and len(value) > 1:
            raise ValueError("'*' stands for every realm and cannot be combined with names")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> AdminApiSourceConfig:
        if not (self.user_events or self.admin_events):
            raise ValueError("user-events and admin-events are both off: nothing to poll")
        if self.page_size > self.max_page_size:
            raise ValueError("page-size must not exceed max-page-size")
        return self

    @property
    def resolved_client_realm(self) -> str:
        """The realm of the client."""
        if self.client_realm:
            return self.client_realm
        return self.realms[0] if len(self.realms) == 1 and self.realms[0] != ALL_REALMS else "master"

    @property
    def streams(self) -> tuple[str, ...]:
        """The streams to poll per realm."""
        return (("events",) if self.user_events else ()) + (("admin-events",) if self.admin_events else ())


class LogSourceConfig(ComponentConfig):
    """Settings of the ``keycloak-log`` source."""

    path: str
    """Keycloak's log file (``--log-file``)."""
    rotated: str | None = None
    """A glob of its rotated files, searched after a restart for the rest of the file read before;
    default ``<path>.*`` (compressed files are ignored)."""
    format: Literal["auto", "plain", "json"] = "auto"
    """``plain`` (Keycloak's default file format), ``json`` (``--log-file-output=json``), or ``auto`` per line."""
    start_at: Literal["end", "beginning"] = "end"
    """Without a checkpoint: only what is logged from now on, or the whole file."""
    poll_interval: Duration = 0.05
    """How often to look for new lines at the end of the file."""
    batch_size: int = Field(default=1000, gt=0)
    """Most events submitted at once."""
    timezone: str | None = None
    """The zone of plain-format timestamps (they carry none), e.g. ``Europe/Berlin``; default: this
    machine's local time zone, which is right when Keycloak runs on the same machine."""
    logger: str = LOGGER
    """The event listener's logger."""
    admin_event_realm: Literal["acting", "none"] = "acting"
    """Admin records name only the acting admin's realm: ``acting`` also uses it as the event's realm
    (``realmId``/``realmName``); ``none`` leaves the event's realm empty (``authDetails`` has it either way)."""
    plain_pattern: str | None = None
    """For a custom ``--log-file-format``: a regular expression with groups ``time``, ``logger``, ``message``."""
    time_format: str | None = None
    """With ``plain-pattern``: the ``strptime`` format of ``time``."""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Berlin)") from exc
        return value

    @field_validator("plain_pattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                compiled = re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from exc
            missing = {"time", "logger", "message"} - set(compiled.groupindex)
            if missing:
                raise ValueError(f"needs the named groups {', '.join(sorted(missing))}")
        return value
