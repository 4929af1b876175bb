"""Settings of the ``azure-eventhubs`` sink: KETE's keys, defaults, messages and cross-checks, and the
connection strings of Event Hubs and Service Bus namespaces (``Endpoint=sb://...``) as the SDKs read them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr

from kete_azure.credentials import AzureIdentitySettings
from kete_core import Duration, TlsSettings

OTHER_DESTINATIONS_KEYS = ("queue", "topic", "stream", "subject", "endpoint", "access-key")
"""Keys of other destinations KETE refuses on an Event Hubs destination (``'queue' cannot be set ...``)."""
MESSAGE_HEADERS = ("eventkind", "eventtype", "contenttype")
"""KETE's message headers, sent as application properties with every event (they win over ``headers``)."""


@dataclass(frozen=True)
class NamespaceConnection:
    """A namespace's connection string as the SDKs read it: its host (with the port, for an emulator),
    the entity it names (``EntityPath``), and whether it is the development emulator (plain AMQP)."""

    host: str
    entity: str
    emulator: bool


def parse_namespace_connection_string(text: str) -> NamespaceConnection:
    """*text* checked as the SDKs check it; ``ValueError("connection-string: <why>")`` if they would refuse it."""
    parts: dict[str, str] = {}
    for segment in text.split(";"):
        name, equals, value = segment.partition("=")
        if equals and name.strip():
            parts[name.strip().lower()] = value.strip()
    endpoint = parts.get("endpoint", "")
    host = urlsplit(endpoint).netloc if "://" in endpoint else ""
    if not host:
        raise ValueError("connection-string: the connection string needs an Endpoint (sb://<namespace>/)")
    key, name, signature = (
        parts.get(field, "") for field in ("sharedaccesskey", "sharedaccesskeyname", "sharedaccesssignature")
    )
    if bool(key) != bool(name):
        raise ValueError("connection-string: SharedAccessKeyName and SharedAccessKey go together")
    if not key and not signature:
        raise ValueError("connection-string: the connection string needs SharedAccessKey or SharedAccessSignature")
    if key and signature:
        raise ValueError("connection-string: only one of SharedAccessKey and SharedAccessSignature may be given")
    return NamespaceConnection(host, parts.get("entitypath", ""), parts.get("usedevelopmentemulator") == "true")


class EventHubsSinkConfig(AzureIdentitySettings):
    """``destination.*`` of ``kind = "azure-eventhubs"`` (KETE's keys and defaults)."""

    connection_string: SecretStr | None = None
    """The namespace's (or the hub's) connection string, as the portal shows it."""
    event_hub: str = ""
    """The event hub; may instead be the connection string's ``EntityPath``."""
    partition_key: str = ""
    """A template (``${realmLowerCase}``): events of one key go to one partition, in order."""
    partition_id: str = ""
    """A partition to send every event to (excludes ``partition-key``)."""
    timeout_seconds: Duration = Field(default=10.0, gt=0)
    """Time to authenticate and for the service to take a batch."""
    custom_endpoint_address: str = ""
    """Where to connect instead of the namespace's host (a gateway, an emulator), an absolute URL."""
    fully_qualified_namespace: str = ""
    """``<namespace>.servicebus.windows.net``, for ``managed-identity``/``default-azure-credential``."""
    headers: dict[str, str] = {}
    """Custom headers, sent as application properties besides KETE's three (which win)."""
    tls: TlsSettings = TlsSettings()
    """kete's TLS settings for the AMQPS connection (trust store, client certificate)."""
    pool: dict[str, Any] = {}
    """KETE's ``pool.*``, accepted so KETE configurations load; kete keeps one producer per route."""
    queue: str = ""
    topic: str = ""
    stream: str = ""
    subject: str = ""
    endpoint: str = ""
    access_key: SecretStr | None = None

    def connection(self) -> NamespaceConnection | None:
        """The connection string read (None without one); ``ValueError`` as
        :func:`parse_namespace_connection_string`."""
        raw = self.connection_string.get_secret_value().strip() if self.connection_string else ""
        return parse_namespace_connection_string(raw) if raw else None

    @property
    def hub(self) -> str:
        """The event hub: ``event-hub``, else the connection string's ``EntityPath``."""
        if self.event_hub.strip():
            return self.event_hub.strip()
        try:
            connection = self.connection()
        except ValueError:
            return ""
        return connection.entity if connection else ""

    def problems(self) -> list[tuple[str, str]]:
        """(setting, message) pairs for settings that cannot work together, in KETE's words."""
        raw = self.connection_string.get_secret_value().strip() if self.connection_string else ""
        namespace = self.fully_qualified_namespace.strip()
        found = self.authentication_problems(bool(raw), {"fully-qualified-namespace": namespace})
        kind = self.authentication_type
        if self.token_authentication and not self.event_hub.strip():
            found.append(("event-hub", f"'event-hub' is required when authentication-type is '{kind}'"))
        if raw and not self.token_authentication:
            try:
                connection = parse_namespace_connection_string(raw)
            except ValueError as exc:
                found.append(("connection-string", str(exc).partition(": ")[2]))
            else:
                hub = self.event_hub.strip()
                if not hub and not connection.entity:
                    found.append(("event-hub", "event-hub is required when the connection string has no EntityPath"))
                elif hub and connection.entity and hub != connection.entity:
                    found.append(("event-hub", f"event-hub '{hub}' differs from the connection string's EntityPath"))
        if self.partition_key.strip() and self.partition_id.strip():
            found.append(
                (
                    "partition-id",
                    "'partition-key' and 'partition-id' are mutually exclusive — set one or neither, not both",
                )
            )
        address = self.custom_endpoint_address.strip()
        if address and not (urlsplit(address).scheme and urlsplit(address).hostname):
            found.append(("custom-endpoint-address", "custom-endpoint-address must be a valid absolute URL"))
        for key in OTHER_DESTINATIONS_KEYS:
            value = getattr(self, key.replace("-", "_"))
            text = value.get_secret_value() if isinstance(value, SecretStr) else value or ""
            if text.strip():
                found.append((key, f"'{key}' cannot be set for azure-eventhubs destinations"))
        return found

    def application_properties(self) -> dict[str, str]:
        """The custom headers as sent: names and values trimmed, blank values and KETE's own names left out."""
        pairs = ((name.strip(), value.strip()) for name, value in self.headers.items())
        return {name: value for name, value in pairs if value and name not in MESSAGE_HEADERS}
