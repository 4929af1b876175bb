"""Settings of the ``amqp-0.9.1`` sink (:class:`Amqp091SinkConfig`) and the ``amqp-1`` sink
(:class:`Amqp1SinkConfig`): KETE's keys and defaults, plus kete's ``mandatory``.

KETE's ``content-encoding`` and ``content-transfer-encoding`` are accepted and, as in KETE, not applied
by these destinations; ``pool.*`` is accepted (see the README for what it means here).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator

from kete_core import Duration, EncodingSettings, Lowercase, TlsSettings

DeliveryMode = Annotated[Literal["persistent", "non-persistent"], Lowercase]


def _required(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


class _AmqpSettings(EncodingSettings):
    host: str
    """The broker's host name or address."""
    username: str = ""
    password: SecretStr = SecretStr("")
    delivery_mode: DeliveryMode = "persistent"
    """``persistent`` (the broker writes the message to disk) or ``non-persistent``."""
    priority: int | None = Field(default=None, ge=0, le=9)
    """The message priority, 0-9; not set unless given."""
    time_to_live_seconds: int = Field(default=0, ge=0)
    """How long the message may wait in a queue; 0: for ever."""
    headers: dict[str, str] = {}
    """Custom headers (static values); ``eventkind``, ``eventtype`` and ``contenttype`` win over them."""
    tls: TlsSettings = TlsSettings()
    """KETE's ``tls.*``: ``enabled``, ``verify-hostname``, trust and key stores, and kete's PEM file settings."""
    pool: dict[str, Any] = {}
    """KETE's ``pool.*`` settings, accepted so KETE configurations load; kete keeps one connection per route."""

    _host = field_validator("host")(_required)


class Amqp091SinkConfig(_AmqpSettings):
    """Settings of the ``amqp-0.9.1`` sink, with KETE's names and defaults."""

    port: int = Field(default=5672, gt=0, lt=65536)
    """The broker's port; 5672 also with TLS, as in KETE (RabbitMQ's TLS port is usually 5671)."""
    virtual_host: str = "/"
    exchange: str
    """The exchange, a template (``keycloak.${realmLowerCase}``)."""
    routing_key: str = ""
    """The routing key, a template (``${kindLowerCase}.${eventTypeLowerCase}``)."""
    publisher_confirms: bool = True
    """Wait for the broker's confirm of each message (a nack fails that event); off: sent is delivered."""
    confirm_timeout_seconds: Duration = Field(default=30.0, gt=0)
    """How long to wait for the confirms of a batch."""
    mandatory: bool = False
    """kete's addition: publish with the ``mandatory`` flag, so a message no queue takes is returned and fails
    its event (KETE publishes without it: such a message is dropped by the broker)."""
    connection_timeout_seconds: Duration = Field(default=10.0, ge=0)
    handshake_timeout_seconds: Duration = Field(default=10.0, ge=0)
    channel_rpc_timeout_seconds: Duration = Field(default=10.0, ge=0)
    requested_heartbeat_seconds: int = Field(default=30, ge=0)
    automatic_recovery_enabled: bool = True
    """Accepted for KETE; kete always reconnects (the route waits while the broker is away)."""
    topology_recovery_enabled: bool | None = None
    """Accepted for KETE; kete declares nothing, so there is no topology to recover."""
    network_recovery_interval_seconds: Duration = Field(default=5.0, gt=0)
    """Accepted for KETE; the route's retry settings pace reconnection attempts."""

    _exchange = field_validator("exchange")(_required)


class Amqp1SinkConfig(_AmqpSettings):
    """Settings of the ``amqp-1`` sink, with KETE's names and defaults."""

    port: int | None = Field(default=None, gt=0, lt=65536)
    """The broker's port: 5672, or 5671 with TLS."""
    destination_name: str
    """The queue or topic, a template (``keycloak.${realmLowerCase}.events``)."""
    destination_type: Annotated[Literal["queue", "topic"], Lowercase] = "queue"
    """Sent as the target's capability (``queue`` or ``topic``), as Qpid JMS does."""
    transport_type: Annotated[Literal["amqp"], Lowercase] = "amqp"
    """``amqp``; KETE's ``amqp-web-sockets`` is not supported."""
    idle_timeout_seconds: int = Field(default=60, ge=0)
    """The AMQP idle time-out kete announces; 0: none."""
    send_timeout_seconds: Duration = Field(default=30.0, gt=0)
    """kete's addition: how long to wait for the dispositions of a batch."""

    _destination_name = field_validator("destination_name")(_required)

    @property
    def effective_port(self) -> int:
        """``port``, or KETE's default for the transport."""
        return self.port or (5671 if self.tls.enabled else 5672)
