"""Settings of the ``azure-servicebus`` sink: KETE's keys, defaults and cross-checks (``queue`` xor
``topic``; ``connection-string`` or ``authentication-type``; ``fully-qualified-namespace`` for a token
credential; ``custom-endpoint-address`` an absolute URL), plus its connection string read as the SDKs
read it (``Endpoint``, ``SharedAccessKeyName``/``SharedAccessKey`` or ``SharedAccessSignature``,
``EntityPath``, ``UseDevelopmentEmulator``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr

from kete_azure.credentials import AzureIdentitySettings
from kete_core import Duration, EncodingSettings, TlsSettings

MESSAGE_HEADERS = ("eventkind", "eventtype", "contenttype")
"""KETE's standard application properties: they win over ``headers.*`` of the same name."""

AMQPS_PORT = 5671
AMQP_PORT = 5672


@dataclass(frozen=True)
class Namespace:
    """A Service Bus namespace and where the sink connects to it.

    :ivar host: the namespace's host name (``<name>.servicebus.windows.net``).
    :ivar port: its AMQP port: 5671 (AMQPS), or the emulator's (plain AMQP, 5672 unless named).
    :ivar entity: the connection string's ``EntityPath`` (a connection string of one queue or topic).
    :ivar emulator: ``UseDevelopmentEmulator=true``: plain AMQP, no TLS.
    :ivar connect_to: where connections go, and KETE's start-up check with them:
        ``custom-endpoint-address`` (port 5671 when it names none, where the SDKs connect) or the namespace.
    """

    host: str
    port: int
    entity: str | None
    emulator: bool
    connect_to: tuple[str, int]

    def __str__(self) -> str:
        return f"sb://{self.host}" if self.port == AMQPS_PORT else f"sb://{self.host}:{self.port}"


def _pairs(text: str) -> dict[str, str]:
    found = {}
    for segment in text.split(";"):
        name, equals, value = segment.partition("=")
        if equals and name.strip():
            found[name.strip()] = value.strip()
    return found


def parse_connection_string(text: str) -> Namespace:
    """*text* read as the Service Bus SDKs read it; ``ValueError`` naming what is wrong."""
    parts = {name.lower(): value for name, value in _pairs(text).items()}
    endpoint = parts.get("endpoint", "")
    if not endpoint:
        raise ValueError("connection-string must contain an Endpoint")
    address = urlsplit(endpoint if "//" in endpoint else f"sb://{endpoint}")
    try:
        host, port = address.hostname, address.port
    except ValueError:
        host = port = None
    if not host:
        raise ValueError("the connection string's Endpoint must be sb://<namespace>.servicebus.windows.net/")
    key_name, key, signature = (
        parts.get(name, "") for name in ("sharedaccesskeyname", "sharedaccesskey", "sharedaccesssignature")
    )
    if bool(key_name) != bool(key):
        raise ValueError("the connection string must have both SharedAccessKeyName and SharedAccessKey")
    if key and signature:
        raise ValueError("the connection string must not have both SharedAccessKey and SharedAccessSignature")
    if not key and not signature:
        raise ValueError(
            "the connection string must have SharedAccessKeyName and SharedAccessKey, or SharedAccessSignature"
        )
    emulator = parts.get("usedevelopmentemulator", "").lower() == "true"
    # The SDKs keep an Endpoint's port only for the emulator; Azure listens on 5671.
    port = (port or AMQP_PORT) if emulator else AMQPS_PORT
    return Namespace(host, port, parts.get("entitypath") or None, emulator, (host, port))


class ServiceBusSinkConfig(AzureIdentitySettings, EncodingSettings):
    """``destination.*`` of ``kind = "azure-servicebus"`` (KETE's keys and defaults); ``authentication-type``
    is ``connection-string`` (the default), ``managed-identity`` or ``default-azure-credential``."""

    connection_string: SecretStr | None = None
    """``Endpoint=sb://<namespace>.servicebus.windows.net/;SharedAccessKeyName=...;SharedAccessKey=...``
    (or ``SharedAccessSignature``; ``EntityPath``; ``UseDevelopmentEmulator=true``)."""
    fully_qualified_namespace: str = ""
    """``<namespace>.servicebus.windows.net``, required with a token ``authentication-type``."""
    queue: str = ""
    """The queue, a template (``keycloak-${realmLowerCase}``); exactly one of ``queue`` and ``topic``."""
    topic: str = ""
    """The topic, a template."""
    subject: str = ""
    """The messages' subject (label), a template; blank: not set."""
    session_id: str = ""
    """The messages' session id (for session-enabled entities), a template; blank: not set."""
    custom_endpoint_address: str = ""
    """Where to connect instead of the namespace's host (an application gateway, an emulator):
    ``sb://host:port`` or any absolute URL; the namespace still names the entities and the tokens."""
    timeout_seconds: Duration = Field(default=10.0, gt=0)
    """Time to connect, and for each attempt to open a link or send a batch."""
    headers: dict[str, str] = {}
    """Custom application properties (static values); ``eventkind``, ``eventtype`` and ``contenttype`` win."""
    tls: TlsSettings = TlsSettings()
    """kete's TLS settings for the AMQPS connection (KETE leaves TLS to the SDK's defaults)."""
    pool: dict[str, Any] = {}
    """KETE's ``pool.*``, accepted so KETE configurations load; kete keeps one connection per route."""

    @property
    def entity_setting(self) -> str:
        """``queue`` or ``topic``: the one of them that is set."""
        return "queue" if self.queue.strip() else "topic"

    @property
    def entity(self) -> str:
        """The entity template's text (the queue's or the topic's)."""
        return (self.queue if self.queue.strip() else self.topic).strip()

    def secret_connection_string(self) -> str:
        return self.connection_string.get_secret_value().strip() if self.connection_string else ""

    def headers_to_send(self) -> dict[str, str]:
        """``headers.*`` as KETE sends them: trimmed, blanks and KETE's own three left out."""
        return {
            name.strip(): value.strip()
            for name, value in self.headers.items()
            if value.strip() and name.strip() not in MESSAGE_HEADERS
        }

    def namespace(self) -> Namespace:
        """Where the sink connects: the connection string's namespace, or ``fully-qualified-namespace``
        for a token credential; the port of KETE's start-up check from ``custom-endpoint-address``
        when given."""
        text = self.secret_connection_string()
        if text and not self.token_authentication:
            namespace = parse_connection_string(text)
        else:
            given = self.fully_qualified_namespace.strip()
            host = urlsplit(given if "//" in given else f"sb://{given}").hostname or given
            namespace = Namespace(host, AMQPS_PORT, None, False, (host, AMQPS_PORT))
        custom = self.custom_endpoint_address.strip()
        if custom:
            address = urlsplit(custom)
            to = (address.hostname or custom, address.port or AMQPS_PORT)
            return Namespace(namespace.host, namespace.port, namespace.entity, namespace.emulator, to)
        return namespace

    def problems(self) -> list[tuple[str, str]]:
        """(setting, message) pairs for settings that cannot work together, KETE's words."""
        found = self.authentication_problems(
            bool(self.secret_connection_string()), {"fully-qualified-namespace": self.fully_qualified_namespace}
        )
        has_queue, has_topic = bool(self.queue.strip()), bool(self.topic.strip())
        if not has_queue and not has_topic:
            found.append(("queue", "either 'queue' or 'topic' is required for azure-servicebus destinations"))
        if has_queue and has_topic:
            found.append(("topic", "'queue' and 'topic' are mutually exclusive — set one, not both"))
        custom = self.custom_endpoint_address.strip()
        if custom and not _absolute_url(custom):
            found.append(("custom-endpoint-address", "custom-endpoint-address must be a valid absolute URL"))
        text = self.secret_connection_string()
        if text and not self.token_authentication:
            try:
                namespace = parse_connection_string(text)
            except ValueError as exc:
                found.append(("connection-string", str(exc)))
            else:
                entity = self.entity
                if namespace.entity and entity and "${" not in entity and entity != namespace.entity:
                    found.append(
                        (
                            self.entity_setting,
                            f"{self.entity_setting} '{entity}' is not the connection string's "
                            f"EntityPath '{namespace.entity}'",
                        )
                    )
        return found


def _absolute_url(text: str) -> bool:
    try:
        address = urlsplit(text)
        address.port  # noqa: B018  (raises for a port that is not a number)
    except ValueError:
        return False
    return bool(address.scheme and address.hostname)
