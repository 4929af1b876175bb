"""Settings of the kete-azure sinks. ``azure-storage-queue``: KETE's keys, defaults and cross-checks
(``connection-string`` xor ``account-name``/``account-key``/``sas-token``/``url``; exactly one of an
account key or a SAS token), plus KETE's content encodings; ``azure-eventgrid``, ``azure-webpubsub``,
``azure-eventhubs`` and ``azure-servicebus`` likewise, with the connection strings of Event Hubs and Service
Bus namespaces (``Endpoint=sb://...``) read as the SDKs read them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr
from yarl import URL

from kete_azure.credentials import AzureIdentitySettings
from kete_core import Duration, EncodingSettings, TlsSettings

EMULATOR_ACCOUNT_NAME = "devstoreaccount1"
# Azurite's and the Storage Emulator's published well-known key, as KETE substitutes it.
EMULATOR_ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
EMULATOR_QUEUE_ENDPOINT = "http://127.0.0.1:10001/devstoreaccount1"


@dataclass(frozen=True)
class StorageAccount:
    """Where the queues are and how to sign: an account key (SharedKey) or a SAS token."""

    url: str
    account_name: str | None
    account_key: str | None
    sas_token: str | None


def _pairs(text: str) -> dict[str, str]:
    found = {}
    for segment in text.split(";"):
        name, equals, value = segment.partition("=")
        if equals and name.strip():
            found[name.strip()] = value.strip()
    return found


def _strip_question_mark(token: str) -> str:
    return token[1:] if token.startswith("?") else token


class StorageQueueSinkConfig(AzureIdentitySettings, EncodingSettings):
    """``destination.*`` of ``kind = "azure-storage-queue"``: a connection string, an account key or a SAS
    token; or ``authentication-type`` ``managed-identity``/``default-azure-credential`` with ``url`` or
    ``account-name`` (KETE documents these, its code lacks them)."""

    queue: str
    """The queue's name, a template (``keycloak-${realmLowerCase}``); the queue must exist."""
    connection_string: SecretStr | None = None
    """An Azure Storage connection string (``AccountName``/``AccountKey``, ``SharedAccessSignature``,
    ``QueueEndpoint``, ``DefaultEndpointsProtocol``, ``EndpointSuffix``, ``UseDevelopmentStorage``)."""
    account_name: str | None = None
    """The storage account, when no connection string is given (required with ``account-key``)."""
    account_key: SecretStr | None = None
    """The account's key (Base64), for SharedKey signing; or use ``sas-token``."""
    sas_token: SecretStr | None = None
    """A shared access signature (with or without its leading ``?``); or use ``account-key``."""
    url: str | None = None
    """The queue service endpoint; default ``https://<account-name>.queue.core.windows.net``."""
    message_ttl: int = Field(default=0, ge=-1)
    """Seconds a message lives: 0 = Azure's default (7 days), -1 = never expires."""
    timeout_seconds: Duration = Field(default=10.0, gt=0)
    """Time to connect and for the service to answer one request."""
    tls: TlsSettings = TlsSettings()
    pool: dict[str, Any] = {}
    """KETE's ``pool.*``, accepted so KETE configurations load; kete keeps one client per route."""

    def problems(self) -> list[tuple[str, str]]:
        """(setting, message) pairs for settings that cannot work together, as KETE checks them."""
        if self.authentication_type not in (None, self.PRIMARY_AUTHENTICATION) and not self.token_authentication:
            return [self.unsupported_authentication()]
        try:
            self.account()
        except ValueError as exc:
            setting, _, message = str(exc).partition(": ")
            return [(setting, message)]
        if not self.queue.strip():
            return [("queue", "queue is required")]
        return []

    def account(self) -> StorageAccount:
        """The endpoint and credential these settings name; ``ValueError("<setting>: <why>")`` if none."""
        raw = self.connection_string.get_secret_value().strip() if self.connection_string else ""
        if self.token_authentication:
            return self._token_account(raw)
        if raw:
            for setting, value in (
                ("account-name", self.account_name),
                ("account-key", self.account_key),
                ("sas-token", self.sas_token),
                ("url", self.url),
            ):
                text = value.get_secret_value() if isinstance(value, SecretStr) else value
                if text and text.strip():
                    raise ValueError(f"{setting}: connection-string and {setting} are mutually exclusive")
            return self._from_connection_string(raw)
        key = self.account_key.get_secret_value().strip() if self.account_key else ""
        sas = self.sas_token.get_secret_value().strip() if self.sas_token else ""
        if not key and not sas:
            raise ValueError("account-key: either account-key, sas-token, or connection-string is required")
        if key and sas:
            raise ValueError("sas-token: account-key and sas-token are mutually exclusive")
        name = (self.account_name or "").strip()
        if key and not name:
            raise ValueError("account-name: account-name is required with account-key")
        return StorageAccount(self._url(name), name or None, key or None, _strip_question_mark(sas) or None)

    def _token_account(self, connection_string: str) -> StorageAccount:
        kind = self.authentication_type
        for setting, value in (
            ("connection-string", connection_string),
            ("account-key", self.account_key.get_secret_value().strip() if self.account_key else ""),
            ("sas-token", self.sas_token.get_secret_value().strip() if self.sas_token else ""),
        ):
            if value:
                raise ValueError(f"{setting}: '{setting}' cannot be set when 'authentication-type' is '{kind}'")
        name = (self.account_name or "").strip()
        url = self._url(name)
        for setting, message in self.https_problems("url", url):
            raise ValueError(f"{setting}: {message}")
        return StorageAccount(url, name or None, None, None)

    def _url(self, name: str) -> str:
        """The queue endpoint: ``url`` (checked against *name*) or the account's default one."""
        url = (self.url or "").strip()
        if url:
            if not url.lower().startswith(("http://", "https://")):
                raise ValueError("url: url must be a valid absolute URL (http:// or https://)")
            if name and name not in url:
                raise ValueError("url: url must contain the account-name")
        elif not name:
            raise ValueError("url: url or account-name is required")
        else:
            url = f"https://{name}.queue.core.windows.net"
        return url.rstrip("/")

    @staticmethod
    def _from_connection_string(raw: str) -> StorageAccount:
        parts = _pairs(raw)
        if parts.get("UseDevelopmentStorage", "").lower() == "true":
            proxy = parts.get("DevelopmentStorageProxyUri", "").rstrip("/")
            url = f"{proxy}:10001/{EMULATOR_ACCOUNT_NAME}" if proxy else EMULATOR_QUEUE_ENDPOINT
            return StorageAccount(url, EMULATOR_ACCOUNT_NAME, EMULATOR_ACCOUNT_KEY, None)
        name = parts.get("AccountName", "")
        key = parts.get("AccountKey", "")
        sas = parts.get("SharedAccessSignature", "")
        if not key and not sas:
            raise ValueError(
                "connection-string: the connection string must contain AccountKey or SharedAccessSignature"
            )
        if key and sas:
            raise ValueError(
                "connection-string: the connection string must not contain both AccountKey and SharedAccessSignature"
            )
        if key and not name:
            raise ValueError("connection-string: the connection string must contain AccountName for shared-key auth")
        url = parts.get("QueueEndpoint", "")
        if url:
            if name and name not in url:
                raise ValueError(
                    "connection-string: the connection string's QueueEndpoint must contain the AccountName"
                )
        elif not name:
            raise ValueError("connection-string: the connection string must contain AccountName or QueueEndpoint")
        else:
            protocol = parts.get("DefaultEndpointsProtocol", "https")
            url = f"{protocol}://{name}.queue.{parts.get('EndpointSuffix', 'core.windows.net')}"
        return StorageAccount(url.rstrip("/"), name or None, key or None, _strip_question_mark(sas) or None)


class EventGridSinkConfig(AzureIdentitySettings, EncodingSettings):
    """``destination.*`` of ``kind = "azure-eventgrid"`` (KETE's keys and defaults): the topic's
    ``access-key``, or ``authentication-type`` ``managed-identity``/``default-azure-credential``."""

    PRIMARY_AUTHENTICATION: ClassVar[str] = "access-key"

    endpoint: str
    """The topic's endpoint (``https://<topic>.<region>-1.eventgrid.azure.net/api/events``)."""
    access_key: SecretStr | None = None
    """The topic's access key, sent as ``aeg-sas-key``."""
    subject: str | None = None
    """The events' ``subject``, a template; default: the event's type (``LOGIN``, ``USER_CREATE``)."""
    event_type: str = "KeycloakEvent"
    """The events' ``eventType``, a template."""
    data_version: str = "1.0"
    """The events' ``dataVersion``."""
    timeout_seconds: Duration = Field(default=10.0, gt=0)
    """Time to connect and for Event Grid to answer a batch."""
    tls: TlsSettings = TlsSettings()
    pool: dict[str, Any] = {}
    """KETE's ``pool.*``, accepted so KETE configurations load."""

    def problems(self) -> list[tuple[str, str]]:
        """(setting, message) pairs for settings that cannot work together, as KETE checks them."""
        found = []
        if not self.endpoint.strip().lower().startswith(("http://", "https://")):
            found.append(("endpoint", "endpoint must be a valid absolute URL"))
        found += self.authentication_problems(bool(self.access_key and self.access_key.get_secret_value().strip()))
        found += self.https_problems("endpoint", self.endpoint)
        if not self.event_type.strip():
            found.append(("event-type", "event-type cannot be blank"))
        if not self.data_version.strip():
            found.append(("data-version", "data-version cannot be blank"))
        return found


@dataclass(frozen=True)
class WebPubSubService:
    """A Web PubSub service from its connection string: its endpoint (with ``Port`` applied) and access key."""

    endpoint: str
    access_key: str | None
    """None with token authentication."""


class WebPubSubSinkConfig(AzureIdentitySettings, EncodingSettings):
    """``destination.*`` of ``kind = "azure-webpubsub"`` (KETE's keys and defaults): a
    ``connection-string``, or ``authentication-type`` ``managed-identity``/``default-azure-credential``
    with the service's ``endpoint``."""

    connection_string: SecretStr | None = None
    """``Endpoint=https://<name>.webpubsub.azure.com;AccessKey=<key>;Version=1.0`` (and ``Port=``)."""
    endpoint: str | None = None
    """The service's endpoint (``https://<name>.webpubsub.azure.com``), for token authentication."""
    hub: str
    """The hub, a template (``keycloak-${realmLowerCase}``)."""
    group: str = ""
    """A group of the hub, a template; blank (the default): every connection of the hub."""
    timeout_seconds: Duration = Field(default=10.0, gt=0)
    """Time to connect and for the service to answer one send."""
    tls: TlsSettings = TlsSettings()
    pool: dict[str, Any] = {}
    """KETE's ``pool.*``, accepted so KETE configurations load."""

    def problems(self) -> list[tuple[str, str]]:
        """(setting, message) pairs for settings that cannot work together, as KETE checks them."""
        if not self.hub.strip():
            return [("hub", "hub is required")]
        raw = self.connection_string.get_secret_value().strip() if self.connection_string else ""
        found = self.authentication_problems(bool(raw), {"endpoint": self.endpoint})
        if found:
            return found
        try:
            self.service()
        except ValueError as exc:
            setting, _, message = str(exc).partition(": ")
            return [(setting, message)]
        return self.https_problems("endpoint", self.endpoint)

    def service(self) -> WebPubSubService:
        """The endpoint and key of the connection string, or the ``endpoint`` with token authentication;
        ``ValueError("<setting>: <why>")`` if unusable."""
        if self.token_authentication:
            endpoint = (self.endpoint or "").strip().rstrip("/")
            if not endpoint.lower().startswith(("http://", "https://")):
                raise ValueError("endpoint: endpoint must be a valid absolute URL")
            return WebPubSubService(endpoint, None)
        raw = self.connection_string.get_secret_value().strip() if self.connection_string else ""
        if not raw:
            raise ValueError("connection-string: 'connection-string' or 'authentication-type' must be set")
        parts = {name.lower(): value for name, value in _pairs(raw).items()}
        endpoint = parts.get("endpoint", "").rstrip("/")
        if not endpoint:
            raise ValueError("connection-string: connection-string does not contain an Endpoint")
        if not endpoint.lower().startswith(("http://", "https://")):
            raise ValueError("connection-string: the connection string's Endpoint must be an http(s) URL")
        key = parts.get("accesskey", "")
        if not key:
            raise ValueError("connection-string: connection-string does not contain an AccessKey")
        port = parts.get("port", "")
        if port:
            if not port.isdigit():
                raise ValueError("connection-string: the connection string's Port must be a number")
            endpoint = str(URL(endpoint).with_port(int(port))).rstrip("/")
        return WebPubSubService(endpoint, key)


OTHER_DESTINATIONS_KEYS = ("queue", "topic", "stream", "subject", "endpoint", "access-key")
"""Keys of other destinations KETE refuses on an Event Hubs destination (``'queue' cannot be set ...``)."""


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


def parse_connection_string(text: str) -> Namespace:
    """A Service Bus connection string as the SDKs read it; ``ValueError("connection-string: <why>")``."""
    connection = parse_namespace_connection_string(text)
    try:
        address = urlsplit(f"sb://{connection.host}")
        host, port = address.hostname, address.port
    except ValueError:
        host = port = None
    if not host:
        raise ValueError("connection-string: the connection string's Endpoint must be sb://<namespace>/")
    # The SDKs keep an Endpoint's port only for the emulator; Azure listens on 5671.
    port = (port or AMQP_PORT) if connection.emulator else AMQPS_PORT
    return Namespace(host, port, connection.entity or None, connection.emulator, (host, port))


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
                setting, _, message = str(exc).partition(": ")
                found.append((setting, message))
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
