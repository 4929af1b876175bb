"""The Pulsar sink's settings (:class:`PulsarSinkConfig`), with KETE's keys and defaults
(``destinations/pulsar/PulsarDestinationConfig.java``); ``oauth.*`` is kete's shared
:class:`kete_core.OAuthSettings`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, model_validator

from kete_core import Duration, EncodingSettings, Lowercase, OAuthSettings, TlsSettings

CompressionType = Literal["NONE", "LZ4", "ZLIB", "ZSTD", "SNAPPY"]
AuthenticationType = Literal["none", "token", "basic", "oauth"]

DEFAULT_BATCHING_MAX_MESSAGES = 1000
DEFAULT_BATCHING_MAX_PUBLISH_DELAY = 1.0


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


class PulsarSinkConfig(EncodingSettings):
    """``destination.*`` of ``kind = "pulsar"``: KETE's keys, names and defaults."""

    service_url: str = Field(min_length=1)
    """``pulsar://host:6650`` or ``pulsar+ssl://host:6651`` (several hosts: ``pulsar://a:6650,b:6650``)."""
    topic: str = Field(min_length=1)
    """The topic, a template: ``persistent://public/default/keycloak-${realmLowerCase}``."""
    compression_type: CompressionType = "LZ4"
    """NONE, LZ4, ZLIB, ZSTD or SNAPPY (any case)."""
    send_timeout_seconds: Duration = Field(default=30.0, ge=0)
    """How long the client keeps trying to send a message before its receipt says ``Timeout``; 0 = forever."""
    operation_timeout_seconds: Duration = Field(default=30.0, ge=0)
    """Lookups and producer creation."""
    connection_timeout_seconds: Duration = Field(default=10.0, ge=0)
    keep_alive_interval_seconds: int = Field(default=30, ge=0)
    """Accepted from KETE; the Python client always pings every 30 s."""
    batching_max_messages: int | None = Field(default=None, gt=0)
    """Setting this (or ``batching-max-publish-delay-seconds``) turns producer batching on; 1000 when on."""
    batching_max_publish_delay_seconds: Duration | None = Field(default=None, gt=0)
    """Setting this (or ``batching-max-messages``) turns producer batching on; 1 s when on."""
    max_pending_messages: int = Field(default=1000, gt=0)
    block_if_queue_full: bool = True
    producer_name: str | None = None
    listener_name: str | None = None
    authentication_type: Annotated[AuthenticationType, Lowercase] | None = None
    token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    oauth: OAuthSettings = OAuthSettings()
    headers: dict[str, str] = {}
    """Extra message properties (static, as in KETE); ``eventkind``, ``eventtype``, ``contenttype`` are kete's."""
    tls: TlsSettings = TlsSettings()
    pool: dict[str, Any] = {}
    """KETE's ``pool.*``: accepted; kete keeps one client and one producer per topic for each route."""

    @model_validator(mode="before")
    @classmethod
    def _compression_upper(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in ("compression-type", "compression_type"):
                if key in data:
                    data = {**data, key: _upper(data[key])}
        return data

    @model_validator(mode="after")
    def _authentication(self) -> PulsarSinkConfig:
        kind = self.authentication_type
        if kind == "token" and (self.token is None or not self.token.get_secret_value().strip()):
            raise ValueError("token is required when authentication-type is 'token'")
        if kind == "basic" and not (self.username or "").strip():
            raise ValueError("username is required when authentication-type is 'basic'")
        if kind == "oauth" and self.oauth.enabled is False:
            raise ValueError("oauth.enabled = false contradicts authentication-type = 'oauth'")
        if self.oauth.active(kind):
            problems = self.oauth.problems()
            if problems:
                raise ValueError("; ".join(message for _, message in problems))
        return self

    @property
    def batching(self) -> bool:
        """Producer batching is on: KETE turns it on only when a ``batching-*`` setting is given."""
        return self.batching_max_messages is not None or self.batching_max_publish_delay_seconds is not None

    @property
    def scheme_wants_tls(self) -> bool:
        """The service URL is ``pulsar+ssl://`` (TLS whatever ``tls.enabled`` says)."""
        return self.service_url.strip().lower().startswith(("pulsar+ssl://", "https://"))
