"""An AMQP 1.0 peer that behaves towards a sending client as Azure Event Hubs and Service Bus do: a real
AMQP 1.0 server (python-qpid-proton's engine and reactor) on 127.0.0.1, run in a thread of its own.

What it checks and does, as the services do:

* SASL ``ANONYMOUS`` (the SDKs' mechanism with claims-based security), plain AMQP or TLS (``tls=(cert, key)``).
* CBS: a put-token request on ``$cbs`` is answered on the client's reply link, ``status-code`` 200 or 401
  (``correlation-id`` = the request's ``message-id``). A SAS token (type ``servicebus.windows.net:sastoken``) is
  checked by :func:`kete_azure.testing.sas.refusal` (HMAC-SHA256 with the named policy's key, ``se`` to come,
  ``sr`` naming this namespace and covering the audience). Other token types (``jwt``) are checked by
  ``token_checks[type]``, empty by default: a JWT is refused until a test plugs its issuer in there.
* A sender link to an entity no accepted token covers is refused (attached, then detached with
  ``amqp:unauthorized-access``), and to an unknown entity (``amqp:not-found``). Accepted links are offered
  ``max_message_size`` (1 MB), as the Standard tier.
* ``$management`` READ of ``com.microsoft:eventhub`` (name, created_at, partition_ids) and
  ``com.microsoft:partition``, with the request's ``security_token`` checked as a put-token.
* Transfers to ``<hub>``, ``<hub>/Partitions/<id>``, ``<queue>`` and ``<topic>``: a batch (each data section an
  encoded message) is unpacked; each message is recorded as a :class:`ReceivedMessage` and the transfer settled
  ``accepted``. ``fail_next(n, condition)`` rejects the next *n* transfers instead, ``refusing`` those whose
  messages it names a condition for; a transfer above ``max_message_size`` is rejected with
  ``amqp:link:message-size-exceeded``.
* ``stop()``/``start()`` close every connection and the listener and open it again on the same port (an outage).

It is not Microsoft's service: no partitions' storage, sequence numbers or receivers, no quotas or throttling
of its own (only what ``fail_next`` asks), no Service Bus sessions, scheduling or dead-letter queues; the
partition of an event sent to the hub with a key is a stable hash here, not Event Hubs' hash.
"""

from __future__ import annotations

import itertools
import socket
import ssl
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from proton import Condition, Delivery, Disposition, Handler, Link, Message, symbol, timestamp
from proton.reactor import ApplicationEvent, Container, EventInjector

from kete_azure.testing import sas
from kete_azure.testing.amqp_relay import Relay
from kete_azure.testing.amqp_sections import Sections, unpack

SAS_TOKEN = "servicebus.windows.net:sastoken"
JWT_TOKEN = "jwt"
MAX_MESSAGE_SIZE = 1024 * 1024
SERVER_BUSY = "com.microsoft:server-busy"
RESOURCE_LIMIT_EXCEEDED = "amqp:resource-limit-exceeded"
_CREDIT = 100

TokenCheck = Callable[[str, str], str | None]
"""``check(token, audience)``: why the service refuses *token* for *audience*, or None if it grants it."""


@dataclass(frozen=True)
class ReceivedMessage:
    """A message the peer accepted: the link's target ``address`` (``hub/Partitions/0``), its ``entity``
    (``hub``), the partition it went to (Event Hubs; None for Service Bus), its partition key
    (``x-opt-partition-key``), its sections, and whether it came in a batch."""

    address: str
    entity: str
    partition_id: str | None
    partition_key: str | None
    body: Any
    properties: dict[str, Any]
    application_properties: dict[str, Any]
    annotations: dict[str, Any]
    batched: bool


@dataclass
class _Failures:
    count: int = 0
    condition: str = SERVER_BUSY
    description: str = ""
    entity: str | None = None


@dataclass
class AzureMessagingPeer:
    """Event hubs (name → partition count), queues and topics of one namespace, served on 127.0.0.1.

    ``keys``: shared access policies (name → key); ``namespace``: the host name it answers to besides
    127.0.0.1 and localhost; ``tls``: the server's certificate and key files (PEM) to serve ``amqps``."""

    event_hubs: dict[str, int] = field(default_factory=lambda: {"keycloak-events": 4})
    queues: set[str] = field(default_factory=set)
    topics: set[str] = field(default_factory=set)
    keys: dict[str, str] = field(default_factory=lambda: {"RootManageSharedAccessKey": "cGVlci1rZXk="})
    namespace: str = "kete-test.servicebus.windows.net"
    tls: ssl.SSLContext | None = None
    """A server context to serve ``amqps`` (``Pki.server_context()``); None: plain AMQP."""
    max_message_size: int = MAX_MESSAGE_SIZE
    token_checks: dict[str, TokenCheck] = field(default_factory=dict)
    refusing: Callable[[list[ReceivedMessage]], str | None] | None = None
    """``refusing(messages)``: the condition to reject a transfer of these messages with, or None to take it."""
    port: int = 0
    received: list[ReceivedMessage] = field(default_factory=list)
    refused_tokens: list[str] = field(default_factory=list)
    created_at: float = field(default_factory=time.time)
    _failures: _Failures = field(default_factory=_Failures)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None
    _injector: EventInjector | None = None
    _relay: Relay | None = None

    # ------------------------------------------------------------------ for tests

    def connection_string(self, entity: str | None = None, policy: str | None = None, key: str | None = None) -> str:
        """A connection string to this namespace: plain AMQP to the port (``UseDevelopmentEmulator=true``,
        the SDKs' way to an emulator), or, with ``tls``, the namespace's name (reach it through
        :attr:`custom_endpoint_address`)."""
        policy = policy or next(iter(self.keys))
        key = self.keys[policy] if key is None else key
        host = self.namespace if self.tls else f"127.0.0.1:{self.port}"
        text = f"Endpoint=sb://{host}/;SharedAccessKeyName={policy};SharedAccessKey={key};"
        if entity:
            text += f"EntityPath={entity};"
        return text + ("" if self.tls else "UseDevelopmentEmulator=true;")

    @property
    def custom_endpoint_address(self) -> str:
        """Where the namespace is really served (the SDKs' ``custom_endpoint_address``)."""
        return f"sb://127.0.0.1:{self.port}"

    def messages(self, entity: str | None = None) -> list[ReceivedMessage]:
        """What the peer accepted (for *entity*), in order."""
        with self._lock:
            return [message for message in self.received if entity is None or message.entity == entity]

    def fail_next(
        self, count: int, condition: str = SERVER_BUSY, description: str = "", *, entity: str | None = None
    ) -> None:
        """Reject the next *count* transfers to an entity (to *entity* only, when given) with *condition*
        (``com.microsoft:server-busy``, ``amqp:resource-limit-exceeded``, ...) instead of accepting them."""
        with self._lock:
            told = description or f"the peer was told to refuse ({condition})"
            self._failures = _Failures(count, condition, told, entity)

    @property
    def failures_left(self) -> int:
        """How many of the transfers :meth:`fail_next` asked for are still to be refused."""
        with self._lock:
            return self._failures.count

    def start(self) -> AzureMessagingPeer:
        """Serve on ``port`` (a free one at first; the same one after :meth:`stop`)."""
        if self._relay is None:
            engine, public = _free_ports(2)
            self._start_engine(engine)
            self._relay = Relay(self.port or public, engine, self.tls)
            self.port = self._relay.port
        self._relay.start()
        return self

    def stop(self) -> None:
        """Drop every connection and stop listening until :meth:`start` (an outage)."""
        if self._relay is not None:
            self._relay.stop()

    def close(self) -> None:
        """Stop for good."""
        self.stop()
        thread, injector = self._thread, self._injector
        self._thread = self._injector = self._relay = None
        if thread is not None and injector is not None:
            injector.trigger(ApplicationEvent("peer_stop"))
            thread.join(10)
            injector.close()

    def _start_engine(self, port: int) -> None:
        ready = threading.Event()
        handler = _PeerHandler(self, port, ready)
        container = Container(handler)
        container.container_id = "kete-azure-peer"
        self._injector = EventInjector()
        container.selectable(self._injector)
        self._thread = threading.Thread(target=container.run, name=f"azure-amqp-peer-{port}", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"the AMQP peer did not listen on 127.0.0.1:{port}")
        if handler.error:
            raise handler.error

    # ------------------------------------------------------------------ for the handler

    def entity_of(self, address: str) -> tuple[str, str | None] | None:
        """The entity an address names and its partition (``hub/Partitions/1`` → (``hub``, ``1``)), or None."""
        name, _, partition = address.strip("/").partition("/Partitions/")
        hubs = {hub.lower(): (hub, count) for hub, count in self.event_hubs.items()}
        if name.lower() in hubs:
            hub, count = hubs[name.lower()]
            if not partition:
                return hub, None
            return (hub, partition) if partition in {str(number) for number in range(count)} else None
        if not partition and name.lower() in {entity.lower() for entity in self.queues | self.topics}:
            return name, None
        return None

    def refusal(self, token_type: str, token: str, audience: str) -> str | None:
        # The service reads the token, not the declared type: azure-servicebus puts SAS tokens as "jwt".
        if token.startswith(sas.PREFIX):
            hosts = frozenset({"127.0.0.1", "localhost", self.namespace.lower()})
            reason = sas.refusal(token, audience, self.keys, hosts)
        elif token_type in self.token_checks:
            reason = self.token_checks[token_type](token, audience)
        else:
            reason = f"InvalidToken: this peer takes no {token_type!r} tokens"
        if reason:
            with self._lock:
                self.refused_tokens.append(reason)
        return reason

    def take_failure(self, address: str = "") -> _Failures | None:
        """The failure to answer a transfer to *address* with, if :meth:`fail_next` asked for one."""
        with self._lock:
            if self._failures.count <= 0:
                return None
            wanted = self._failures.entity
            if wanted is not None and (self.entity_of(address) or (address, None))[0].lower() != wanted.lower():
                return None
            self._failures.count -= 1
            return self._failures

    def record(self, address: str, sections: list[Sections], batched: bool, outer: Sections) -> str | None:
        """Record the messages of one transfer, or return the condition ``refusing`` refuses them with."""
        entity, addressed = self.entity_of(address) or (address, None)
        partitions = self.event_hubs.get(entity, 0)
        with self._lock:
            found = []
            for message in sections:
                key = message.annotations.get("x-opt-partition-key", outer.annotations.get("x-opt-partition-key"))
                partition = addressed
                if partition is None and partitions:
                    number = zlib.crc32(str(key).encode()) if key is not None else len(self.received) + len(found)
                    partition = str(number % partitions)
                found.append(
                    ReceivedMessage(
                        address,
                        entity,
                        partition,
                        None if key is None else str(key),
                        message.body,
                        message.properties,
                        message.application_properties,
                        message.annotations,
                        batched,
                    )
                )
            refusal = self.refusing(found) if self.refusing else None
            if refusal is None:
                self.received.extend(found)
            return refusal


class _PeerHandler(Handler):
    """The reactor's handler: every connection, link and delivery of the peer."""

    def __init__(self, peer: AzureMessagingPeer, port: int, ready: threading.Event) -> None:
        super().__init__()
        self.peer = peer
        self.port = port
        self.ready = ready
        self.error: BaseException | None = None
        self.acceptor: Any = None
        self.container: Any = None
        self.connections: list[Any] = []
        self._tags = itertools.count()

    def on_reactor_init(self, event: Any) -> None:
        self.container = event.container
        try:
            self.acceptor = event.container.listen(f"127.0.0.1:{self.port}")
        except BaseException as exc:  # reported by start()
            self.error = exc
            event.container.stop()
        finally:
            self.ready.set()

    def on_peer_stop(self, event: Any) -> None:
        if self.acceptor is not None:
            self.acceptor.close()
        for connection in self.connections:
            transport = connection.transport
            if transport is not None:
                transport.close_tail()
                transport.close_head()
        self.connections.clear()
        self.container.stop()

    def on_connection_bound(self, event: Any) -> None:
        sasl = event.transport.sasl()
        sasl.allowed_mechs("ANONYMOUS")
        self.connections.append(event.connection)

    def on_connection_remote_open(self, event: Any) -> None:
        connection = event.connection
        if connection.state & connection.LOCAL_UNINIT:
            connection.container = "kete-azure-peer"
            connection.open()

    def on_connection_remote_close(self, event: Any) -> None:
        event.connection.close()
        if event.connection in self.connections:
            self.connections.remove(event.connection)

    def on_transport_closed(self, event: Any) -> None:
        if event.connection is not None and event.connection in self.connections:
            self.connections.remove(event.connection)

    def on_session_remote_open(self, event: Any) -> None:
        if event.session.state & event.session.LOCAL_UNINIT:
            event.session.open()

    def on_session_remote_close(self, event: Any) -> None:
        event.session.close()

    def on_link_remote_close(self, event: Any) -> None:
        event.link.close()

    def on_link_remote_open(self, event: Any) -> None:
        link = event.link
        if not link.state & link.LOCAL_UNINIT:
            return
        if link.is_sender:  # the client's receiving end of $cbs / $management
            link.source.address = link.remote_source.address
            link.target.address = link.remote_target.address
            link.open()
            return
        link.source.address = link.remote_source.address
        link.target.address = link.remote_target.address
        address = _entity_path(link.remote_target.address or "")
        if address in ("$cbs", "$management"):
            link.open()
            link.flow(_CREDIT)
            return
        found = self.peer.entity_of(address)
        if found is None:
            self._refuse(link, "amqp:not-found", f"The messaging entity '{address}' could not be found.")
            return
        if not any(sas.covers(granted, address) for granted in _grants(link.connection)):
            self._refuse(link, "amqp:unauthorized-access", "Unauthorized access. 'Send' claim(s) are required.")
            return
        link.max_message_size = self.peer.max_message_size
        link.open()
        link.flow(_CREDIT)

    @staticmethod
    def _refuse(link: Link, condition: str, description: str) -> None:
        link.target.address = None  # a refused attach names no terminus, as the services answer
        link.open()
        link.condition = _error(condition, description)
        link.close()

    def on_delivery(self, event: Any) -> None:
        delivery: Delivery = event.delivery
        link = event.link
        if link.is_sender:
            if delivery.remote_state or delivery.remote.settled:
                delivery.settle()
            return
        if not delivery.readable or delivery.partial:
            return
        encoded = link.recv(delivery.pending)
        link.advance()
        address = _entity_path(link.target.address or "")
        if address in ("$cbs", "$management"):
            self._request(link, address, encoded)
            self._settle(delivery, Disposition.ACCEPTED)
        else:
            self._transfer(delivery, address, encoded)
        link.flow(1)

    def _settle(self, delivery: Delivery, outcome: int, condition: Condition | None = None) -> None:
        if condition is not None:
            delivery.local.condition = condition
        delivery.update(outcome)
        delivery.settle()

    def _transfer(self, delivery: Delivery, address: str, encoded: bytes) -> None:
        if len(encoded) > self.peer.max_message_size:
            too_big = f"The message of {len(encoded)} bytes exceeds the limit of {self.peer.max_message_size} bytes."
            self._settle(delivery, Disposition.REJECTED, _error("amqp:link:message-size-exceeded", too_big))
            return
        failure = self.peer.take_failure(address)
        if failure is not None:
            self._settle(delivery, Disposition.REJECTED, _error(failure.condition, failure.description))
            return
        unpacked = unpack(bytes(encoded))
        if unpacked is None:
            self._settle(delivery, Disposition.REJECTED, _error("amqp:decode-error", "not an AMQP message"))
            return
        outer, messages, batched = unpacked
        refusal = self.peer.record(address, messages, batched, outer)
        if refusal is not None:
            refused = _error(refusal, f"the peer refuses these messages ({refusal})")
            self._settle(delivery, Disposition.REJECTED, refused)
            return
        self._settle(delivery, Disposition.ACCEPTED)

    # ------------------------------------------------------------------ $cbs and $management

    def _request(self, link: Link, node: str, encoded: bytes) -> None:
        request = unpack(bytes(encoded))
        if request is None:
            return
        message = request[0]
        properties = message.application_properties
        if node == "$cbs":
            status, description, body = self._put_token(link, properties, message.value)
            fields = {"status-code": status, "status-description": description}
        else:
            status, description, body = self._management(link, properties)
            fields = {"status-code": status, "status-description": description}
        reply_to = message.properties.get("reply_to")
        sender = self._reply_link(link, node, reply_to)
        if sender is None:
            return
        reply = Message(body=body, properties=fields, correlation_id=message.properties.get("message_id"))
        if reply_to:
            reply.address = reply_to
        sender.send(reply, tag=str(next(self._tags)))

    def _reply_link(self, link: Link, node: str, reply_to: str | None) -> Any:
        candidates = [
            other
            for other in _links(link.session.connection)
            if other.is_sender and other.state & other.LOCAL_ACTIVE and other.remote_source.address == node
        ]
        for other in candidates:
            if reply_to and other.remote_target.address == reply_to:
                return other
        return candidates[0] if candidates else None

    def _put_token(self, link: Link, properties: dict[str, Any], token: Any) -> tuple[int, str, Any]:
        if properties.get("operation") != "put-token":
            return 400, f"unknown operation {properties.get('operation')!r}", None
        audience = str(properties.get("name") or "")
        token_type = str(properties.get("type") or "")
        if not audience or not isinstance(token, str):
            return 400, "put-token needs a name and a token", None
        reason = self.peer.refusal(token_type, token, audience)
        if reason:
            return 401, reason, None
        path = audience.split("://", 1)[-1].partition("/")[2]
        _grants(link.session.connection).add(path)
        return 202, "Accepted", None

    def _management(self, link: Link, properties: dict[str, Any]) -> tuple[int, str, Any]:
        operation, kind = properties.get("operation"), properties.get("type")
        name = str(properties.get("name") or "")
        if operation != "READ" or kind not in ("com.microsoft:eventhub", "com.microsoft:partition"):
            return 400, f"unsupported operation {operation!r} of {kind!r}", None
        token = properties.get("security_token")
        audience = f"sb://{self.peer.namespace}/{name}"
        reason = self.peer.refusal(JWT_TOKEN, str(token), audience)
        if reason:
            return 401, reason, None
        if name not in self.peer.event_hubs:
            return 404, f"The messaging entity '{name}' could not be found.", None
        count = self.peer.event_hubs[name]
        if kind == "com.microsoft:eventhub":
            partitions = [str(number) for number in range(count)]
            created = timestamp(int(self.peer.created_at * 1000))
            return 200, "OK", {"name": name, "created_at": created, "partition_ids": partitions, "type": kind}
        partition = str(properties.get("partition") or "")
        if partition not in {str(number) for number in range(count)}:
            return 404, f"The partition '{partition}' of '{name}' could not be found.", None
        sent = [message for message in self.peer.messages(name) if message.partition_id == partition]
        return (
            200,
            "OK",
            {
                "name": name,
                "partition": partition,
                "type": kind,
                "begin_sequence_number": 0,
                "last_enqueued_sequence_number": len(sent) - 1,
                "last_enqueued_offset": str(len(sent) - 1),
                "last_enqueued_time_utc": timestamp(int(time.time() * 1000)),
                "is_partition_empty": not sent,
            },
        )


def _free_ports(count: int) -> list[int]:
    """*count* distinct TCP ports free on 127.0.0.1 now (all bound until each is picked)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _error(condition: str, description: str) -> Condition:
    """An AMQP error as the services send it: with ``info`` (a tracking id), which pyamqp reads by position."""
    return Condition(condition, description, {symbol("com.microsoft:tracking-id"): str(uuid.uuid4())})


def _grants(connection: Any) -> set[str]:
    """The entity paths the tokens put on *connection* grant (kept in the connection's record, as proton
    makes a new wrapper object at each access)."""
    try:
        return connection.kete_grants
    except AttributeError:
        connection.kete_grants = set()
        return connection.kete_grants


def _entity_path(address: str) -> str:
    """The entity path of a link's address: the SDKs name the target ``amqps://<host>/<hub>``."""
    if "://" in address:
        address = address.split("://", 1)[1].partition("/")[2]
    return address.strip("/")


def _links(connection: Any) -> list[Any]:
    found = []
    link = connection.link_head(0)
    while link is not None:
        found.append(link)
        link = link.next(0)
    return found


__all__ = [
    "JWT_TOKEN",
    "MAX_MESSAGE_SIZE",
    "RESOURCE_LIMIT_EXCEEDED",
    "SAS_TOKEN",
    "SERVER_BUSY",
    "AzureMessagingPeer",
    "ReceivedMessage",
    "TokenCheck",
]
