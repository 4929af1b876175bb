"""``destination.kind = "mqtt-3"`` and ``"mqtt-5"``: publish each event as one MQTT message; see the README."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import uuid
from collections.abc import Sequence
from typing import Any, cast

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from kete_core import (
    DeliveryResults,
    Event,
    Message,
    PermanentError,
    Sink,
    SinkContext,
    Template,
    Unavailable,
    client_ssl_context,
    load_tls,
)
from kete_mqtt.settings import Mqtt5SinkConfig, MqttSinkConfig

log = logging.getLogger("kete.mqtt")

RESERVED_PROPERTIES = ("eventkind", "eventtype", "contenttype")

# PUBACK/PUBREC reason codes (MQTT 5) after which no retry can deliver the message.
PERMANENT_REASONS = frozenset({0x87, 0x90, 0x95, 0x99})  # not authorized, bad topic, too large, bad payload format

# How often keep-alive pings are considered.
_MISC_INTERVAL = 1.0


class MqttDeliveryError(Exception):
    """The broker refused a message with a reason retrying may overcome (MQTT 5 reason codes)."""


def text_problem(text: str, what: str) -> str | None:
    """Why *text* cannot be an MQTT UTF-8 string (what Mosquitto and the specification refuse), or None."""
    for char in text:
        code = ord(char)
        if code <= 0x1F or 0x7F <= code <= 0x9F:
            return f"the {what} contains the control character {char!r}, which MQTT brokers refuse"
        if 0xD800 <= code <= 0xDFFF or (code & 0xFFFE) == 0xFFFE:
            return f"the {what} contains {char!r}, which is not allowed in MQTT strings"
    if len(text.encode()) > 65535:
        return f"the {what} is longer than MQTT's 65535 bytes"
    return None


def topic_problem(topic: str) -> str | None:
    """Why *topic* is not a topic a message can be published to, or None."""
    if not topic:
        return "the topic is empty"
    if "+" in topic or "#" in topic:
        return "the topic contains a wildcard ('+' or '#'), which publishing does not allow"
    return text_problem(topic, "topic")


class _Batch:
    """The messages of one :meth:`MqttSink.send` awaiting their acknowledgement, by packet id."""

    __slots__ = ("done", "lost", "pending", "results", "room", "sealed", "window")

    def __init__(self, size: int, window: int) -> None:
        loop = asyncio.get_running_loop()
        self.results: list[BaseException | None] = [None] * size
        self.pending: dict[int, int] = {}
        self.window = window
        self.done: asyncio.Future[None] = loop.create_future()
        self.room: asyncio.Future[None] | None = None
        self.lost: str | None = None
        self.sealed = False
        """Set once every message is published: only then does an empty ``pending`` mean done."""

    def acknowledged(self, mid: int, reason: ReasonCode | None) -> None:
        index = self.pending.pop(mid, None)
        if index is None:
            return
        if reason is not None and reason.is_failure:
            error = f"the broker refused the message: {reason} (reason code 0x{reason.value:02X})"
            self.results[index] = (
                PermanentError(error) if reason.value in PERMANENT_REASONS else MqttDeliveryError(error)
            )
        self._wake()

    def lose(self, reason: str) -> None:
        self.lost = reason
        self._wake(force=True)

    def _wake(self, force: bool = False) -> None:
        room = self.room
        # Refilled as each acknowledgement comes: a steady flow keeps the broker's ACKs piggybacked
        # on our PUBLISHes (Mosquitto leaves Nagle on), where waiting for half a window stalls on them.
        if room is not None and not room.done() and (force or len(self.pending) < self.window):
            room.set_result(None)
        if (force or (self.sealed and not self.pending)) and not self.done.done():
            self.done.set_result(None)


class MqttSink(Sink):
    """Publishes each message to its rendered topic and returns once the broker acknowledged each one
    (PUBACK for QoS 1, PUBCOMP for QoS 2; QoS 0 once written to the connection).

    One connection per route, driven by the event loop (paho-mqtt without its thread). A batch is
    published with up to ``max-inflight`` messages (or the broker's Receive Maximum) in flight. A
    broker that cannot be reached, refuses the connection or goes away raises
    :class:`~kete_core.errors.Unavailable`: kete waits and sends the batch again, less the messages
    the broker had acknowledged.
    """

    Config = MqttSinkConfig
    config: MqttSinkConfig
    protocol = paho.MQTTv311

    def __init__(self, config: MqttSinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        self.topic = context.address("topic", config.topic)
        self.user_properties: list[tuple[str, Template]] = []
        for name, text in config.headers.items():
            if name.strip().lower() in RESERVED_PROPERTIES:
                log.warning("%s.headers.%s: kete sets this property itself; the setting is ignored", context.path, name)
            elif text.strip():
                self.user_properties.append((name.strip(), context.template(f"headers.{name}", text.strip())))
        self._ssl: ssl.SSLContext | None = None
        if config.tls.enabled:
            path = f"{context.path}.tls"
            self._ssl = client_ssl_context(config.tls, path, load_tls(config.tls, path))
        if config.pool:
            log.info("%s.pool: not needed by kete (one MQTT connection per route); ignored", context.path)
        if not config.encoding.identity:
            log.warning(
                "%s: content-encoding and content-transfer-encoding are not applied to MQTT messages, as in KETE",
                context.path,
            )
        self.client_id = f"{config.client_id_prefix or f'kete-{uuid.uuid4()}'}-1"
        self.url = config.url
        self._client: paho.Client | None = None
        self._window = config.max_inflight
        self._batch: _Batch | None = None
        self._misc: asyncio.TimerHandle | None = None
        self._writing = False
        # Messages of a batch that raised Unavailable which the broker had acknowledged: kete sends
        # the same batch again, and these are not published twice.
        self._acknowledged: dict[int, Message] = {}

    # ------------------------------------------------------------------ connection

    def _new_client(self) -> paho.Client:
        config = self.config
        v5 = self.protocol == paho.MQTTv5
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=None if v5 else config.clean_session,
            protocol=self.protocol,
            transport="websockets" if config.transport_type == "websocket" else "tcp",
            reconnect_on_failure=False,
        )
        client.max_inflight_messages_set(0)  # kete keeps the window itself (the broker's Receive Maximum)
        client.max_queued_messages_set(0)
        client.connect_timeout = config.connection_timeout_seconds
        if config.transport_type == "websocket":
            client.ws_set_options(path=config.websocket_path)
        if config.username:
            client.username_pw_set(config.username, config.password.get_secret_value() or None)
        if self._ssl is not None:
            client.tls_set_context(self._ssl)
        client.enable_logger(logging.getLogger("kete.mqtt.paho"))
        return client

    async def _connected(self) -> paho.Client:
        client = self._client
        if client is not None and client.is_connected():
            return client
        self._drop()
        return await self._connect()

    async def _connect(self) -> paho.Client:
        config = self.config
        client = self._new_client()
        loop = asyncio.get_running_loop()
        connack: asyncio.Future[tuple[ReasonCode, Properties | None]] = loop.create_future()

        def on_connect(_c: paho.Client, _u: Any, _flags: Any, reason: ReasonCode, properties: Any) -> None:
            if not connack.done():
                connack.set_result((reason, properties))

        client.on_connect = on_connect
        v5 = self.protocol == paho.MQTTv5
        options: dict[str, Any] = {"clean_start": config.clean_session} if v5 else {}
        try:
            # The TCP connect and TLS handshake block: a thread does them, and writes CONNECT.
            await asyncio.wait_for(
                asyncio.to_thread(
                    client.connect, config.host, config.effective_port, config.keep_alive_interval_seconds, **options
                ),
                config.connection_timeout_seconds + 1,
            )
        except (OSError, TimeoutError, ValueError) as exc:
            sock = client.socket()
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
            raise Unavailable(f"cannot reach the MQTT broker at {self.url}: {_describe(exc)}") from None
        self._client = client
        self._attach(client)
        try:
            reason, properties = await asyncio.wait_for(connack, config.connection_timeout_seconds)
        except TimeoutError:
            self._drop()
            raise Unavailable(
                f"the MQTT broker at {self.url} did not answer CONNECT within {config.connection_timeout_seconds:g} s"
            ) from None
        if reason.is_failure:
            self._drop()
            raise Unavailable(f"the MQTT broker at {self.url} refused the connection: {reason}")
        if not client.is_connected():
            self._drop()
            raise Unavailable(f"the MQTT broker at {self.url} closed the connection")
        receive_maximum = getattr(properties, "ReceiveMaximum", None) if v5 else None
        self._window = min(config.max_inflight, receive_maximum or 65535)
        client.on_connect = None
        log.info("route '%s': connected to the MQTT broker at %s as %s", self.context.route, self.url, self.client_id)
        return client

    def _attach(self, client: paho.Client) -> None:
        loop = asyncio.get_running_loop()
        sock = client.socket()
        assert sock is not None
        client.on_publish = self._on_publish
        client.on_disconnect = self._on_disconnect
        client.on_socket_close = lambda _c, _u, closed: self._detach(closed)
        client.on_socket_register_write = lambda _c, _u, _s: self._want_write()
        client.on_socket_unregister_write = lambda _c, _u, closed: self._stop_writing(closed)
        loop.add_reader(sock, self._readable)
        self._writing = False
        if client.want_write():
            self._want_write()
        self._misc = loop.call_later(_MISC_INTERVAL, self._housekeeping)

    def _readable(self) -> None:
        client = self._client
        if client is not None:
            client.loop_read(1000)

    def _writable(self) -> None:
        client = self._client
        if client is not None:
            client.loop_write()

    def _want_write(self) -> None:
        sock = None if self._client is None else self._client.socket()
        if self._writing or sock is None:
            return
        self._writing = True
        asyncio.get_running_loop().add_writer(cast("socket.socket", sock), self._writable)

    def _stop_writing(self, sock: Any) -> None:
        if self._writing:
            self._writing = False
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_writer(sock)

    def _detach(self, sock: Any) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(Exception):
            loop.remove_reader(sock)
        self._stop_writing(sock)

    def _housekeeping(self) -> None:
        client = self._client
        if client is None:
            return
        client.loop_misc()
        if self._client is client:
            self._misc = asyncio.get_running_loop().call_later(_MISC_INTERVAL, self._housekeeping)

    def _on_publish(self, _c: paho.Client, _u: Any, mid: int, reason: ReasonCode, _p: Any) -> None:
        batch = self._batch
        if batch is not None:
            batch.acknowledged(mid, reason if self.protocol == paho.MQTTv5 else None)

    def _on_disconnect(self, _c: paho.Client, _u: Any, _flags: Any, reason: ReasonCode, _p: Any) -> None:
        why = f"the connection to the MQTT broker at {self.url} was lost ({reason})"
        log.info("route '%s': %s", self.context.route, why)
        if self._batch is not None:
            self._batch.lose(why)

    def _drop(self) -> None:
        """Forget the current client (its socket closed), so the next send connects anew."""
        client, self._client = self._client, None
        if self._misc is not None:
            self._misc.cancel()
            self._misc = None
        if client is None:
            return
        client.on_disconnect = None
        sock = client.socket()
        if sock is not None:
            self._detach(sock)
            with contextlib.suppress(Exception):
                sock.close()

    async def start(self) -> None:
        """Connect, as KETE's check at start-up does: a broker that cannot be reached or refuses the
        credentials raises :class:`Unavailable` with the reason."""
        await self._connected()

    # ------------------------------------------------------------------ sending

    def properties(self, event: Event, content_type: str) -> Properties | PermanentError:
        """The PUBLISH properties of an event's message (MQTT 5 only), or why it cannot have them."""
        raise NotImplementedError("MQTT 3 messages have no properties")

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        client = await self._connected()
        batch = _Batch(len(messages), self._window)
        results = batch.results
        pending = batch.pending
        earlier = self._acknowledged
        qos, retain = self.config.qos, self.config.retained
        publish = client.publish
        topics = self.topic.render_all([message.event for message in messages])
        checked: dict[str, str | None] = {}
        build = self.properties if self.protocol == paho.MQTTv5 else None
        published = bytearray(len(messages))
        self._batch = batch
        try:
            for index, (message, topic) in enumerate(zip(messages, topics, strict=True)):
                if earlier and earlier.get(id(message)) is message:
                    continue
                if isinstance(topic, PermanentError):
                    results[index] = topic
                    continue
                problem = checked.get(topic, "")
                if problem == "":
                    problem = checked[topic] = topic_problem(topic)
                if problem is not None:
                    results[index] = PermanentError(f"rendered topic {topic!r} cannot be published to: {problem}")
                    continue
                properties = None if build is None else build(message.event, message.content_type)
                if isinstance(properties, PermanentError):
                    results[index] = properties
                    continue
                if len(pending) >= batch.window:
                    batch.room = asyncio.get_running_loop().create_future()
                    await batch.room
                    batch.room = None
                if batch.lost is not None:
                    break
                info = publish(topic, message.payload, qos, retain, properties)
                if info.rc != paho.MQTT_ERR_SUCCESS:
                    batch.lose(
                        f"the connection to the MQTT broker at {self.url} was lost ({paho.error_string(info.rc)})"
                    )
                    break
                pending[info.mid] = index
                published[index] = 1
            batch.sealed = True
            if pending and batch.lost is None:
                await batch.done
        finally:
            self._batch = None
        if batch.lost is not None:
            self._drop()
            # What the broker acknowledged is kept, so that the same batch sent again skips it.
            unacknowledged = set(pending.values())
            for index, message in enumerate(messages):
                if published[index] and index not in unacknowledged and results[index] is None:
                    earlier[id(message)] = message
            raise Unavailable(batch.lost)
        earlier.clear()
        return results if any(result is not None for result in results) else None

    async def close(self) -> None:
        client = self._client
        if client is not None and client.is_connected():
            client.on_disconnect = None  # a disconnection asked for is no loss to report
            client.disconnect()
            with contextlib.suppress(Exception):
                client.loop_write()
        self._drop()


class Mqtt5Sink(MqttSink):
    """The ``mqtt-5`` sink: as ``mqtt-3``, with KETE's user properties ``eventkind`` and ``eventtype``
    (after the custom ``headers.*``) and the serializer's content type as the Content Type property."""

    Config = Mqtt5SinkConfig
    config: Mqtt5SinkConfig
    protocol = paho.MQTTv5

    def __init__(self, config: Mqtt5SinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        self._properties: dict[tuple[Any, ...], Properties | PermanentError] = {}

    def properties(self, event: Event, content_type: str) -> Properties | PermanentError:
        custom = tuple(template.render(event) for _, template in self.user_properties)
        key = (event.kind, event.event_type, content_type, custom)
        found = self._properties.get(key)
        if found is None:
            found = self._build(event, content_type, custom)
            if len(self._properties) >= 10_000:
                self._properties.clear()
            self._properties[key] = found
        return found

    def _build(self, event: Event, content_type: str, custom: tuple[Any, ...]) -> Properties | PermanentError:
        user: list[tuple[str, str]] = []
        for (name, _), value in zip(self.user_properties, custom, strict=True):
            # A property whose template has no value for this event is not sent, as a blank one.
            if isinstance(value, str) and value.strip():
                problem = text_problem(value, f"user property {name!r}")
                if problem is not None:
                    return PermanentError(problem)
                user.append((name, value.strip()))
        problem = text_problem(event.event_type, "event type")
        if problem is not None:
            return PermanentError(f"{problem} (sent as the user property 'eventtype')")
        user += [("eventkind", event.kind), ("eventtype", event.event_type)]
        properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        properties.ContentType = content_type
        properties.UserProperty = user
        if self.config.message_expiry_seconds is not None:
            properties.MessageExpiryInterval = self.config.message_expiry_seconds
        return properties


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return f"{type(exc).__name__}: {exc}"
