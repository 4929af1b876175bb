"""The ``pulsar`` sink: each message is published to its rendered topic with KETE's metadata, and counts
as delivered only once its send receipt says ``Ok``.

As KETE's ``PulsarDestination``: the message key is the event type; the properties are the custom
``headers.*`` and then ``eventkind``, ``eventtype`` and ``contenttype`` (which win); one producer per
topic, made on first use (at start for a topic without variables, which also checks that the
broker answers and takes the credentials). Unlike KETE, which waited for each send, a batch is
published with ``send_async`` (many messages in flight), then kete waits for every receipt.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pulsar

from kete_core import (
    ConfigError,
    DeliveryResults,
    Message,
    PermanentError,
    Sink,
    SinkContext,
    Template,
    TokenProvider,
    Unavailable,
    load_tls,
    redact,
)
from kete_pulsar.settings import (
    DEFAULT_BATCHING_MAX_MESSAGES,
    DEFAULT_BATCHING_MAX_PUBLISH_DELAY,
    PulsarSinkConfig,
)

log = logging.getLogger("kete.pulsar")

RESERVED_PROPERTIES = frozenset({"eventkind", "eventtype", "contenttype"})

Result = pulsar.Result

# Receipts and errors that mean the broker cannot be reached (or would not let kete in) right now.
UNREACHABLE = frozenset({
    Result.Timeout, Result.ConnectError, Result.NotConnected, Result.AlreadyClosed, Result.ServiceUnitNotReady,
    Result.LookupError, Result.TooManyLookupRequestException, Result.BrokerMetadataError,
    Result.BrokerPersistenceError, Result.AuthenticationError, Result.ErrorGettingAuthenticationData,
    Result.ProducerNotInitialized, Result.ProducerBlockedQuotaExceededError,
    Result.ProducerBlockedQuotaExceededException, Result.Interrupted,
})  # fmt: skip

# Results after which no retry can deliver the message.
PERMANENT = frozenset({
    Result.MessageTooBig, Result.InvalidMessage, Result.InvalidTopicName, Result.TopicTerminated,
    Result.AuthorizationError, Result.NotAllowedError, Result.IncompatibleSchema,
})  # fmt: skip

_BY_NAME = {result.name: result for result in UNREACHABLE | PERMANENT}

COMPRESSION = {
    "NONE": pulsar.CompressionType.NONE,
    "LZ4": pulsar.CompressionType.LZ4,
    "ZLIB": pulsar.CompressionType.ZLib,
    "ZSTD": pulsar.CompressionType.ZSTD,
    "SNAPPY": pulsar.CompressionType.SNAPPY,
}


_NAME_PART = re.compile(r"[-=:.\w]+")


def topic_problem(topic: str) -> str | None:
    """Why *topic* is not a topic name Pulsar takes, or None. Short forms (``events``,
    ``tenant/namespace/events``) are Pulsar's own; the broker refuses a local name holding ``/``
    (it would read the name as the retired form with a cluster), and the client would retry the
    lookup until its operation timeout instead of failing."""
    rest = topic
    if "://" in topic:
        domain, _, rest = topic.partition("://")
        if domain not in ("persistent", "non-persistent"):
            return f"the domain must be persistent or non-persistent, not {domain!r}"
    parts = rest.split("/")
    if len(parts) not in (1, 3) or ("://" in topic and len(parts) != 3):
        return "a topic is <domain>://<tenant>/<namespace>/<name>, and the name may not contain '/'"
    if not parts[-1].strip():
        return "the topic's name is empty"
    if len(parts) == 3 and not all(_NAME_PART.fullmatch(part) for part in parts[:2]):
        return "the tenant and namespace may hold only letters, digits and -=:._"
    if any(char in parts[-1] for char in "\0\n\r"):
        return "the topic's name contains a NUL or line-break character"
    if len(topic.encode()) > 1024:
        return "the topic name is longer than 1024 bytes"
    return None


class PulsarDeliveryError(Exception):
    """The broker did not take a message; kete retries it as the route's retry policy says."""


def result_of(exc: BaseException) -> Result | None:
    """The :class:`pulsar.Result` a client exception stands for (its class is named after it)."""
    return _BY_NAME.get(type(exc).__name__)


class _LastProblem(logging.Handler):
    """Reads the client's log: its exceptions name only the result, the reason is in its log. Keeps
    the last warning (``Connection refused``), the last failed TLS handshake (the client's later
    errors name only ``ConnectError``), and notices connections the broker closes as soon as they
    are made, which is how it refuses credentials or a TLS client without a certificate (the client
    then only times out). Passes warnings and errors on to the ``kete.pulsar`` logger."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.text: str | None = None
        self.handshake: str | None = None
        self.refused = 0
        self._just_connected = False

    def reset(self) -> None:
        self.text, self.handshake, self.refused, self._just_connected = None, None, 0, False

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage().strip()
        if "Connected to broker" in text:
            self._just_connected = True
        elif "Handshake failed:" in text:
            self.handshake = text.partition("Handshake failed:")[2].strip()
            self._just_connected = False
        elif "Connection disconnected" in text and self._just_connected:
            self.refused += 1
            self._just_connected = False
        elif "Created producer" in text or "Received success" in text:
            self._just_connected = False
        if record.levelno >= logging.WARNING:
            self.text = text
            log.handle(record)


# The C++ client's log levels, as its file logger writes them ("... INFO  [thread] Class:line | text").
_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARN": logging.WARNING, "ERROR": logging.ERROR}
_LOG_LINE = re.compile(r"^\S+ \S+ (?P<level>DEBUG|INFO|WARN|ERROR)\s+\[[^\]]*\] [^|]*\| ?(?P<text>.*)$")
_LOG_FILE_LIMIT = 1 << 20


class _ClientLog:
    """The client's log, written by its own file logger and read back into :class:`_LastProblem`.

    A Python logger handed to the client is called from the client's C++ threads, which can abort
    the interpreter as it exits ("terminate called without an active exception",
    apache/pulsar-client-python#256). The file logger never calls into Python; kete reads what it
    wrote whenever it needs the client's reasons, and empties the file once it was read past 1 MiB."""

    def __init__(self, name: str, problems: _LastProblem) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="kete-pulsar-log-"))
        self.path = self.folder / "client.log"
        self.path.touch(0o600)
        self.logger = pulsar.FileLogger(pulsar.LoggerLevel.Info, str(self.path))
        self._name = name
        self._problems = problems
        self._offset = 0
        self._lock = threading.Lock()

    def read(self) -> None:
        """Pass every line written since the last call to the problem reader."""
        with self._lock:
            try:
                with self.path.open("rb") as handle:
                    handle.seek(self._offset)
                    data = handle.read()
            except OSError:
                return
            end = data.rfind(b"\n") + 1
            self._offset += end
            for raw in data[:end].replace(b"\x00", b"").decode("utf-8", "replace").splitlines():
                match = _LOG_LINE.match(raw)
                if match is None:
                    continue
                level = _LEVELS[match["level"]]
                self._problems.handle(
                    logging.makeLogRecord(
                        {"name": self._name, "levelno": level, "levelname": logging.getLevelName(level),
                         "msg": match["text"]}
                    )
                )  # fmt: skip
            if self._offset > _LOG_FILE_LIMIT and end == len(data):
                # The client appends (O_APPEND), so it goes on writing at the new end.
                with self.path.open("r+b") as handle:
                    handle.truncate(0)
                self._offset = 0

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class _Receipts:
    """The outcome of each message of one batch, filled in by send receipts on the client's thread."""

    def __init__(self, size: int, loop: asyncio.AbstractEventLoop) -> None:
        self.results: list[BaseException | Result | None] = [None] * size
        self.pending = 0
        self.sent = False
        self.lock = threading.Lock()
        self.loop = loop
        self.done: asyncio.Future[None] = loop.create_future()

    def callback(self, index: int) -> Callable[[Result, Any], None]:
        def receipt(result: Result, _message_id: Any) -> None:
            if result != Result.Ok:
                self.results[index] = result
            with self.lock:
                self.pending -= 1
                finished = self.sent and self.pending == 0
            if finished:
                self.loop.call_soon_threadsafe(self._finish)

        return receipt

    def expect(self) -> None:
        with self.lock:
            self.pending += 1

    def all_sent(self) -> None:
        with self.lock:
            self.sent = True
            finished = self.pending == 0
        if finished:
            self.loop.call_soon_threadsafe(self._finish)

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)


class PulsarSink(Sink):
    """Publishes each message to its rendered topic and returns once every send receipt is in.

    A receipt other than ``Ok`` fails its message alone (a :class:`PermanentError` for a message
    too big, a bad topic name, a topic the credentials may not write); when nothing of a batch
    could be sent because the broker is unreachable (a refused or lost connection, a send timeout,
    credentials the broker refuses) the batch raises :class:`Unavailable` and kete waits.
    """

    Config = PulsarSinkConfig
    config: PulsarSinkConfig

    def __init__(self, config: PulsarSinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        self.topic: Template = context.address("topic", config.topic)
        self.service = redact(config.service_url)
        static_problem = None if self.topic.variables else topic_problem(config.topic.strip())
        if static_problem:
            raise ConfigError(static_problem, path=f"{context.path}.topic")
        self.properties: dict[str, str] = {}
        for name, value in config.headers.items():
            if name.lower() in RESERVED_PROPERTIES:
                log.warning("%s.headers.%s: kete sets this property itself; the setting is ignored", context.path, name)
            elif value.strip():
                self.properties[name] = value.strip()
        if config.tls.enabled and not config.scheme_wants_tls:
            raise ConfigError(
                "tls.enabled = true, but the service URL is not pulsar+ssl://",
                path=f"{context.path}.service-url",
                hint="use pulsar+ssl://<host>:6651 (the Pulsar client takes TLS from the URL's scheme)",
            )
        self.tls = load_tls(config.tls, f"{context.path}.tls") if config.scheme_wants_tls else None
        self.oauth = TokenProvider(config.oauth) if config.oauth.active(config.authentication_type) else None
        self._oauth_session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        if config.pool:
            log.info("%s.pool: kete keeps one client and one producer per topic for this route; ignored", context.path)
        if not config.encoding.identity:
            log.warning(
                "%s: content-encoding and content-transfer-encoding are not applied to Pulsar messages, as in KETE;"
                " compression-type compresses them",
                context.path,
            )
        self._client: pulsar.Client | None = None
        self._producers: dict[str, pulsar.Producer] = {}
        self._tls_dir: Path | None = None
        self._trouble: str | None = None
        self._topics: dict[str, PermanentError | None] = {}
        # The C++ client logs every connection and producer at INFO: the problem reader reads them and
        # passes on only its warnings and errors.
        self._last_problem = _LastProblem()
        self._client_log: _ClientLog | None = None

    # ------------------------------------------------------------------ client and producers

    def _authentication(self) -> pulsar.Authentication | None:
        config = self.config
        kind = config.authentication_type
        if self.oauth is not None:
            return pulsar.AuthenticationToken(self._oauth_token)
        if kind is None:
            # KETE before authentication-type: a token, else a username, selects the method.
            kind = "token" if config.token is not None else "basic" if config.username else "none"
        if kind == "token" and config.token is not None:
            return pulsar.AuthenticationToken(config.token.get_secret_value().strip())
        if kind == "basic" and config.username:
            password = config.password.get_secret_value() if config.password else ""
            return pulsar.AuthenticationBasic(config.username.strip(), password)
        return None

    def _oauth_token(self) -> str:
        """The token for the client, which asks on its own I/O thread whenever it connects: kete's
        token provider runs on kete's event loop (free then, as every client call is on a worker thread)."""
        assert self.oauth is not None and self._loop is not None and self._oauth_session is not None
        waiting = asyncio.run_coroutine_threadsafe(self.oauth.token(self._oauth_session), self._loop)
        try:
            return waiting.result(self.config.oauth.timeout_seconds + 5)
        except Exception as exc:  # whatever it is, the client gets no token and the log says why
            log.error("route '%s': no OAuth token for Pulsar: %s", self.context.route, exc)
            return ""

    def _tls_options(self) -> dict[str, Any]:
        if self.tls is None:
            return {}
        folder = Path(tempfile.mkdtemp(prefix="kete-pulsar-tls-"))
        self._tls_dir = folder
        options: dict[str, Any] = {
            "tls_validate_hostname": self.config.tls.verify_hostname,
            "tls_allow_insecure_connection": not self.config.tls.verify,
        }

        def write(name: str, text: str) -> str:
            path = folder / name
            path.touch(0o600)
            path.write_text(text)
            return str(path)

        ca = self.tls.ca_pem()
        if ca is not None:
            options["tls_trust_certs_file_path"] = write("ca.pem", ca)
        certificate, key = self.tls.certificate_pem(), self.tls.private_key_pem()
        if certificate is not None and key is not None:
            options["tls_certificate_file_path"] = write("client.pem", certificate)
            options["tls_private_key_file_path"] = write("client-key.pem", key)
        return options

    def _client_log_file(self) -> _ClientLog:
        if self._client_log is None:
            self._client_log = _ClientLog(f"kete.pulsar.client.{self.context.route}", self._last_problem)
        return self._client_log

    def _read_client_log(self) -> None:
        if self._client_log is not None:
            self._client_log.read()

    def _make_client(self) -> pulsar.Client:
        config = self.config
        return pulsar.Client(
            config.service_url.strip(),
            authentication=self._authentication(),
            operation_timeout_seconds=max(1, round(config.operation_timeout_seconds)),
            connection_timeout_ms=max(1, round(config.connection_timeout_seconds * 1000)),
            listener_name=config.listener_name or None,
            logger=self._client_log_file().logger,
            **self._tls_options(),
        )

    def _producer(self, topic: str) -> pulsar.Producer:
        producer = self._producers.get(topic)
        if producer is None:
            assert self._client is not None
            config = self.config
            options: dict[str, Any] = {}
            if config.batching:
                delay = config.batching_max_publish_delay_seconds or DEFAULT_BATCHING_MAX_PUBLISH_DELAY
                options = {
                    "batching_enabled": True,
                    "batching_max_messages": config.batching_max_messages or DEFAULT_BATCHING_MAX_MESSAGES,
                    "batching_max_publish_delay_ms": max(1, round(delay * 1000)),
                }
            if config.producer_name:
                options["producer_name"] = config.producer_name
            producer = self._client.create_producer(
                topic,
                compression_type=COMPRESSION[config.compression_type],
                send_timeout_millis=round(config.send_timeout_seconds * 1000),
                max_pending_messages=config.max_pending_messages,
                block_if_queue_full=config.block_if_queue_full,
                **options,
            )
            if len(self._producers) >= 1000:
                self._close_producers()
            self._producers[topic] = producer
        return producer

    def _close_producers(self) -> None:
        producers, self._producers = list(self._producers.values()), {}
        for producer in producers:
            try:
                producer.close()
            except pulsar.PulsarException as exc:
                log.debug("route '%s': closing a producer: %s", self.context.route, exc)

    def _topic_problem(self, topic: str) -> PermanentError | None:
        problem = self._topics.get(topic, False)
        if problem is False:
            reason = topic_problem(topic)
            problem = (
                PermanentError(f"rendered topic {topic!r} is not a Pulsar topic name: {reason}") if reason else None
            )
            if len(self._topics) >= 10_000:
                self._topics.clear()
            self._topics[topic] = problem
        return problem

    def _reason(self, result: Result | None, fallback: str) -> str:
        self._read_client_log()
        name = result.name if result is not None else fallback
        problem = self._last_problem
        if problem.handshake:
            hint = (
                ": the broker's certificate is not signed by a CA of tls.trust-store, or does not name the URL's host"
                if "verify failed" in problem.handshake
                else ""
            )
            return f"{name}: the TLS handshake failed: {problem.handshake}{hint}"
        if problem.refused:
            closed = f"the broker closed each connection as soon as it was made ({problem.refused} times)"
            if (self.config.authentication_type or "none") != "none":
                return f"AuthenticationError: {closed}: it refuses the {self.config.authentication_type} credentials"
            if self.tls is not None and self.tls.certificate_pem() is None:
                return f"{name}: {closed}: it likely requires a client certificate, and tls.key-store gives none"
        detail = problem.text
        return f"{name}: {detail}" if detail else name

    def _unavailable(self, reason: str) -> Unavailable:
        self._trouble = reason
        return Unavailable(f"cannot reach Pulsar at {self.service}: {reason}")

    def _check(self, topic: str | None) -> None:
        """Connect: make the producer of *topic* (KETE's check at start), or look it up."""
        self._read_client_log()
        self._last_problem.reset()
        if self._trouble is not None:
            # A producer that lost its connection may be stuck reconnecting: new ones make the check real.
            self._close_producers()
        try:
            if topic is None:
                return
            self._producer(topic)
        except pulsar.PulsarException as exc:
            result = result_of(exc)
            if result in PERMANENT:
                # The broker answers: the topic itself is the problem, for each event sent to it.
                return
            raise self._unavailable(self._reason(result, str(exc))) from None
        self._trouble = None

    async def start(self) -> None:
        """Make the client; for a topic without variables, make its producer now (which connects,
        authenticates and looks the topic up: a broker that is down or refuses the credentials is
        reported here)."""
        if self._client is None:
            self._loop = asyncio.get_running_loop()
            if self.oauth is not None and self._oauth_session is None:
                self._oauth_session = aiohttp.ClientSession()
            self._client = await asyncio.to_thread(self._make_client)
        static = None if self.topic.variables else self.config.topic.strip()
        await asyncio.to_thread(self._check, static)

    # ------------------------------------------------------------------ sending

    def _publish(self, messages: Sequence[Message], topics: Sequence[str | BaseException], receipts: _Receipts) -> None:
        """Hand every message to its producer (on a worker thread: a full queue blocks)."""
        base = self.properties
        results = receipts.results
        for index, (message, topic) in enumerate(zip(messages, topics, strict=True)):
            if isinstance(topic, BaseException):
                results[index] = topic
                continue
            problem = self._topic_problem(topic)
            if problem is not None:
                results[index] = problem
                continue
            try:
                producer = self._producer(topic)
            except pulsar.PulsarException as exc:
                result = result_of(exc)
                results[index] = result if result is not None else PulsarDeliveryError(f"{topic}: {exc}")
                continue
            event = message.event
            properties = {
                **base,
                "eventkind": event.kind,
                "eventtype": event.event_type,
                "contenttype": message.content_type,
            }
            receipts.expect()
            try:
                producer.send_async(
                    message.payload, receipts.callback(index), properties=properties, partition_key=event.event_type
                )
            except pulsar.PulsarException as exc:
                receipts.callback(index)(result_of(exc) or Result.UnknownError, None)
        receipts.all_sent()

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        if self._client is None:
            await self.start()
        topics: list[str | BaseException] = list(self.topic.render_all([message.event for message in messages]))
        if self._trouble is not None:
            # The last batch found the broker unreachable: ask before queueing more.
            probe = next((topic for topic in topics if isinstance(topic, str) and not topic_problem(topic)), None)
            await asyncio.to_thread(self._check, probe)
        self._read_client_log()
        self._last_problem.reset()
        receipts = _Receipts(len(messages), asyncio.get_running_loop())
        await asyncio.to_thread(self._publish, messages, topics, receipts)
        await receipts.done
        return self._outcome(receipts.results)

    def _outcome(self, raw: list[BaseException | Result | None]) -> DeliveryResults:
        results: list[BaseException | None] = []
        unreachable: Result | None = None
        delivered = 0
        for entry in raw:
            if entry is None:
                delivered += 1
                results.append(None)
            elif isinstance(entry, BaseException):
                results.append(entry)
            elif entry in PERMANENT:
                results.append(PermanentError(f"Pulsar refused the message: {entry.name}"))
            else:
                if entry in UNREACHABLE:
                    unreachable = unreachable or entry
                results.append(PulsarDeliveryError(f"Pulsar did not take the message: {self._reason(entry, '')}"))
        if unreachable is not None:
            reason = self._reason(unreachable, "")
            if delivered == 0 and all(isinstance(result, PulsarDeliveryError) for result in results):
                raise self._unavailable(reason)
            self._trouble = reason  # the next batch checks the connection first
        elif delivered:
            self._trouble = None
        return results if any(result is not None for result in results) else None

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await asyncio.to_thread(self._shutdown, client)
        client_log, self._client_log = self._client_log, None
        if client_log is not None:
            client_log.read()
            client_log.remove()
        session, self._oauth_session = self._oauth_session, None
        if session is not None:
            await session.close()
        folder, self._tls_dir = self._tls_dir, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def _shutdown(self, client: pulsar.Client) -> None:
        for producer in self._producers.values():
            try:
                producer.flush()
            except pulsar.PulsarException as exc:
                log.warning("route '%s': Pulsar messages not acknowledged at close: %s", self.context.route, exc)
        self._close_producers()
        try:
            client.close()
        except pulsar.PulsarException as exc:
            log.debug("route '%s': closing the Pulsar client: %s", self.context.route, exc)


__all__ = ["PulsarDeliveryError", "PulsarSink"]
