"""The settings of the ``mqtt-3`` and ``mqtt-5`` sinks: the original KETE's keys and defaults
(``MqttUtils.parseSettings``), plus kete's ``tls.*`` block."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator

from kete_core import Duration, EncodingSettings, Lowercase, TlsSettings

TransportType = Literal["tcp", "websocket"]


class MqttSinkConfig(EncodingSettings):
    """Settings of the ``mqtt-3`` sink (``destination.*``); ``mqtt-5`` adds user properties."""

    host: str = Field(min_length=1)
    """The broker's host name or address."""
    port: int | None = Field(default=None, ge=1, le=65535)
    """The broker's port; by default 1883, 8883 with TLS, 8000 for websocket, 443 for websocket with TLS."""
    topic: str = Field(min_length=1)
    """The topic each event is published to, a template (``keycloak/${realmLowerCase}/events``)."""
    qos: int = Field(default=1, ge=0, le=2)
    """0 (at most once), 1 (at least once: a PUBACK for each), 2 (exactly once: a PUBCOMP for each)."""
    retained: bool = False
    """Publish with the retain flag: the broker keeps the last message of each topic for new subscribers."""
    transport_type: Annotated[TransportType, Lowercase] = "tcp"
    """``tcp`` or ``websocket``."""
    websocket_path: str = "/"
    """The HTTP path of the websocket handshake (kete's; KETE's Paho asked for ``/``)."""
    client_id_prefix: str = ""
    """The client id is ``<prefix>-1``; by default the prefix is ``kete-<random uuid>``."""
    clean_session: bool = True
    """MQTT 3's clean session, MQTT 5's clean start."""
    connection_timeout_seconds: Duration = Field(default=10.0, gt=0)
    """How long connecting (TCP, TLS, CONNECT/CONNACK) may take."""
    keep_alive_interval_seconds: int = Field(default=60, ge=0, le=65535)
    """Seconds between keep-alive pings when nothing else is sent; a broker silent for that long again is
    taken as gone."""
    max_inflight: int = Field(default=2048, ge=1, le=65535)
    """QoS 1 and 2 messages sent and not yet acknowledged, at most (MQTT 5: the client's Receive Maximum)."""
    username: str = ""
    password: SecretStr = SecretStr("")
    headers: dict[str, str] = {}
    """MQTT 5 user properties, templates; ``eventkind``, ``eventtype`` and ``contenttype`` are kete's.
    MQTT 3 has none: they are ignored, as in KETE."""
    tls: TlsSettings = TlsSettings()
    """kete's TLS settings (KETE's ``tls.*`` keys); ``tls.enabled`` switches to ``ssl://``/``wss://``."""
    pool: dict[str, Any] = {}
    """KETE's destination pool settings: accepted; kete keeps one connection per route."""

    @field_validator("host", "topic", "username", "client_id_prefix", mode="before")
    @classmethod
    def _trimmed(cls, value: Any) -> Any:
        # KETE trims these; a blank host or topic is then refused as missing.
        return value.strip() if isinstance(value, str) else value

    @property
    def effective_port(self) -> int:
        """The configured port, or KETE's default for the transport and TLS."""
        if self.port is not None:
            return self.port
        if self.transport_type == "websocket":
            return 443 if self.tls.enabled else 8000
        return 8883 if self.tls.enabled else 1883

    @property
    def url(self) -> str:
        """The broker's address as KETE wrote it (``tcp://host:1883``), for messages."""
        if self.transport_type == "websocket":
            scheme = "wss" if self.tls.enabled else "ws"
        else:
            scheme = "ssl" if self.tls.enabled else "tcp"
        return f"{scheme}://{self.host}:{self.effective_port}"


class Mqtt5SinkConfig(MqttSinkConfig):
    """Settings of the ``mqtt-5`` sink."""

    message_expiry_seconds: int | None = Field(default=None, ge=0, le=4294967295)
    """kete's: the MQTT 5 Message Expiry Interval of each message; by default none (never expires), as KETE."""
