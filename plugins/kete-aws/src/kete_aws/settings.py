"""Settings of the AWS sinks: KETE's keys (``region``, ``endpoint-url``, ``account-id``,
``timeout-seconds``, ``authentication-type`` and its credentials, ``tls.*``, ``headers.*``,
``attributes.*``), plus kete's batching and retry settings.

Keys of another AWS kind (``topic`` on an ``aws-sqs`` destination) are errors, as in KETE, because
each kind's model has no field for them.
"""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr

from kete_core import Duration, EncodingSettings, Lowercase, TlsSettings

AuthenticationType = Literal[
    "access-key",
    "environment-variables",
    "instance-metadata",
    "container-credentials",
    "credentials-file-path",
    "credentials-file-text",
    "credentials-file-base64",
    "default-credentials-chain",
    "web-identity-token",
]

EMULATOR_ACCOUNT_ID = "000000000000"
"""KETE's account id when ``endpoint-url`` is set and ``account-id`` is not (LocalStack's)."""

# Which credential settings each authentication-type forbids (KETE's cross-contamination checks).
_ACCESS_KEY = ("access-key-id", "secret-access-key", "session-token")
_FILES = ("credentials-file-path", "credentials-file-text", "credentials-file-base64")
_FORBIDDEN: dict[str, tuple[str, ...]] = {
    "access-key": _FILES,
    "environment-variables": _ACCESS_KEY + _FILES,
    "instance-metadata": _ACCESS_KEY + _FILES,
    "container-credentials": _ACCESS_KEY + _FILES,
    "default-credentials-chain": _ACCESS_KEY + _FILES,
    "web-identity-token": _ACCESS_KEY + _FILES,
    **{kind: _ACCESS_KEY + tuple(other for other in _FILES if other != kind) for kind in _FILES},
}


class AwsSettings(EncodingSettings):
    """What the four AWS sinks share. ``content-encoding`` and ``content-transfer-encoding`` come
    from :class:`~kete_core.EncodingSettings` (the Kinesis sink accepts and ignores them, as KETE)."""

    region: str | None = None
    """The AWS region; else ``AWS_REGION``, else ``AWS_DEFAULT_REGION``."""
    endpoint_url: str | None = None
    """Another endpoint than AWS's (LocalStack, moto, a VPC endpoint)."""
    timeout_seconds: Duration = Field(default=10.0, gt=0)
    """Time to connect, and to read one answer."""
    authentication_type: Annotated[AuthenticationType | None, Lowercase] = None
    """How to sign requests; unset means unsigned (anonymous) requests, as KETE, for emulators."""
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None
    """kete's addition to ``access-key``: the session token of temporary credentials."""
    credentials_profile: str | None = None
    """The profile of a credentials file; else ``AWS_PROFILE``, else ``default``."""
    credentials_file_path: str | None = None
    credentials_file_text: SecretStr | None = None
    credentials_file_base64: SecretStr | None = None
    tls: TlsSettings = TlsSettings()
    """KETE's ``tls.*``: the CAs to trust and the client certificate for an HTTPS endpoint."""
    max_concurrency: int = Field(default=8, gt=0)
    """Batch requests in flight at once for this route."""
    retry_attempts: int = Field(default=3, gt=0)
    """Attempts per entry within one send (throttling, a service error), the first included."""
    retry_initial_backoff: Duration = 0.1
    retry_max_backoff: Duration = 2.0
    headers: dict[str, str] = {}
    """KETE's custom headers: message attributes on SQS and SNS (winning over ``attributes``);
    Kinesis records and EventBridge events carry none, so there they are accepted and unused, as KETE."""
    pool: dict[str, Any] = {}
    """KETE's ``pool.*`` settings, accepted so KETE configurations load; kete keeps one client per route."""

    def resolved_region(self) -> str | None:
        """``region``, else ``AWS_REGION``, else ``AWS_DEFAULT_REGION`` (KETE's order)."""
        for value in (self.region, os.environ.get("AWS_REGION"), os.environ.get("AWS_DEFAULT_REGION")):
            if value and value.strip():
                return value.strip()
        return None

    def problems(self) -> list[tuple[str, str]]:
        """(setting, message) pairs for settings that cannot work together; checked when the sink
        is built, outside pydantic so that no secret is echoed in an error."""
        found: list[tuple[str, str]] = []
        if self.endpoint_url:
            parts = urlsplit(self.endpoint_url.strip())
            if parts.scheme not in ("http", "https") or not parts.hostname:
                found.append(("endpoint-url", "must be an absolute http(s) URL"))
        if self.resolved_region() is None:
            found.append(("region", "is required: set 'region' or the AWS_REGION / AWS_DEFAULT_REGION variable"))
        found += self._credential_problems()
        if self.retry_max_backoff < self.retry_initial_backoff:
            found.append(("retry-max-backoff", "must not be shorter than retry-initial-backoff"))
        return found

    def _set(self, setting: str) -> bool:
        value = getattr(self, setting.replace("-", "_"))
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return bool(value and value.strip())

    def _credential_problems(self) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        kind = self.authentication_type
        if kind is None:
            for setting in (*_ACCESS_KEY, *_FILES):
                if self._set(setting):
                    found.append((setting, "is set but 'authentication-type' is not (requests go unsigned)"))
            return found
        for setting in _FORBIDDEN[kind]:
            if self._set(setting):
                found.append((setting, f"cannot be set when authentication-type is '{kind}'"))
        if self._set("access-key-id") != self._set("secret-access-key"):
            found.append(
                ("access-key-id", "'access-key-id' and 'secret-access-key' must both be set or both be omitted")
            )
        if kind == "access-key" and not self._set("access-key-id"):
            found.append(("access-key-id", "is required when authentication-type is 'access-key'"))
        if kind in _FILES and not self._set(kind):
            found.append((kind, f"is required when authentication-type is '{kind}'"))
        if kind == "container-credentials" and not (
            os.environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
            or os.environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        ):
            found.append(
                (
                    "authentication-type",
                    "'container-credentials' needs AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or "
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI (set by the ECS/EKS agent)",
                )
            )
        return found


class AttributeSettings(AwsSettings):
    """SQS and SNS: message attributes, and the FIFO group and deduplication ids."""

    account_id: str | None = None
    """The AWS account that owns the queue or topic; ``000000000000`` by default with ``endpoint-url``."""
    attributes: dict[str, str] = {}
    """Static message attributes (``String``); blank values are not sent."""
    message_group_id: str | None = None
    """Template; required for a ``.fifo`` queue or topic, refused otherwise."""
    message_deduplication_id: str | None = None
    """Template (FIFO without content-based deduplication)."""

    def resolved_account(self) -> str | None:
        """``account-id``, else KETE's emulator account when ``endpoint-url`` is set."""
        if self.account_id and self.account_id.strip():
            return self.account_id.strip()
        return EMULATOR_ACCOUNT_ID if self.endpoint_url else None

    def static_attributes(self) -> dict[str, str]:
        """``attributes.*`` then ``headers.*`` (headers win), blanks dropped, KETE's three left out
        (they are set per message and win)."""
        merged = {name: value.strip() for name, value in {**self.attributes, **self.headers}.items() if value.strip()}
        return {name: value for name, value in merged.items() if name not in ("eventkind", "eventtype", "contenttype")}

    def fifo_problems(self, setting: str, name: str) -> list[tuple[str, str]]:
        """KETE's FIFO rules for the queue or topic *name* (the template as configured)."""
        found: list[tuple[str, str]] = []
        if self.resolved_account() is None:
            found.append(("account-id", "is required when connecting to AWS itself ('endpoint-url' is not set)"))
        fifo = name.strip().endswith(".fifo")
        group = bool(self.message_group_id and self.message_group_id.strip())
        if group and not fifo:
            found.append(("message-group-id", f"is set but {setting} '{name}' does not end in '.fifo'"))
        if fifo and not group:
            found.append(("message-group-id", f"is required: {setting} '{name}' is a FIFO {setting}"))
        dedup = bool(self.message_deduplication_id and self.message_deduplication_id.strip())
        if dedup and not fifo:
            found.append(("message-deduplication-id", f"is set but {setting} '{name}' does not end in '.fifo'"))
        if len(self.static_attributes()) > 7:
            found.append(("attributes", "at most 7 attributes and headers: AWS allows 10 and kete sets 3"))
        return found


class SqsSettings(AttributeSettings):
    """Settings of the ``aws-sqs`` sink."""

    queue: str
    """The queue's name, a template (``keycloak-${realmLowerCase}``); ``.fifo`` makes it a FIFO queue."""


class SnsSettings(AttributeSettings):
    """Settings of the ``aws-sns`` sink."""

    topic: str
    """The topic's name, a template; ``.fifo`` makes it a FIFO topic."""
    subject: str | None = None
    """The notification's subject (e-mail subscribers see it), a template."""


class KinesisSettings(AwsSettings):
    """Settings of the ``aws-kinesis`` sink."""

    stream: str
    """The stream's name, a template."""
    partition_key: str
    """The records' partition key, a template (``${realmLowerCase}``); 1 to 256 characters."""


class EventBridgeSettings(AwsSettings):
    """Settings of the ``aws-eventbridge`` sink."""

    event_bus: str
    """The event bus's name or ARN, a template."""
    source: str
    """The events' ``source``, a template."""
    detail_type: str
    """The events' ``detail-type``, a template."""
