"""``destination.kind = "kafka"``: produce each event as one Kafka record; see the README for settings."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from kete_core import DeliveryResults, Event, Message, PermanentError, Sink, SinkContext, Template, Unavailable
from kete_kafka.client import UNREACHABLE, LibrdkafkaLog, Worker, describe
from kete_kafka.settings import (
    KafkaSinkConfig,
    Problem,
    client_settings,
    librdkafka_problems,
    raise_problems,
    set_default,
    topic_problem,
)

log = logging.getLogger("kete.kafka")


RESERVED_HEADERS = ("eventkind", "eventtype", "contenttype")

# The original KETE's producer defaults (acks and idempotence only when acks is not set), plus
# librdkafka settings that make it behave like the Java client KETE used.
PRODUCER_DEFAULTS = {
    "linger.ms": "5",
    "batch.size": "32768",
    "compression.type": "lz4",
    "max.in.flight.requests.per.connection": "5",
    # The Java client's partitioner: a key lands on the same partition as with KETE.
    "partitioner": "murmur2_random",
    # An outage shows up as undelivered messages within seconds; kete then waits for the broker
    # without using up the events' attempts and sends them again.
    "message.timeout.ms": "10000",
    # The Java client's reconnect ceiling (librdkafka's is 10 s): a restarted broker is found fast.
    "reconnect.backoff.max.ms": "1000",
}

PRODUCER_MANAGED = {
    "transactional.id": "transactions are not supported: kete acknowledges each event on its broker ack",
    "delivery.report.only.error": "set by kete",
    "dr_cb": "set by kete",
    "dr_msg_cb": "set by kete",
    "on_delivery": "set by kete",
    "error_cb": "set by kete",
    "logger": "set by kete",
    "stats_cb": "not supported",
    "throttle_cb": "not supported",
    "oauth_cb": "not supported",
}

# Errors after which no retry can deliver the message.
PERMANENT = frozenset({
    KafkaError.MSG_SIZE_TOO_LARGE,
    KafkaError.TOPIC_AUTHORIZATION_FAILED,
    KafkaError.TOPIC_EXCEPTION,
    KafkaError.INVALID_RECORD,
    KafkaError.RECORD_LIST_TOO_LARGE,
    KafkaError.POLICY_VIOLATION,
    KafkaError._INVALID_ARG,
    KafkaError.INVALID_TIMESTAMP,
})  # fmt: skip


# Messages lost with the producer that held them (a fatal error made kete replace it).
_LOST = frozenset({KafkaError._FATAL, KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT})


class KafkaDeliveryError(Exception):
    """The broker did not take a message; kete retries it as the route's retry policy says."""


class KafkaSink(Sink):
    """Produces each message to its rendered topic and returns once the broker acknowledged every one.

    One librdkafka producer per route. A batch is handed to librdkafka at once; its delivery
    reports decide each message's outcome: delivered, a :class:`~kete_core.errors.PermanentError`
    (too large, not allowed, bad topic), or an error kete retries. When the cluster cannot be
    reached at all, the whole batch raises :class:`~kete_core.errors.Unavailable` and kete waits.
    """

    Config = KafkaSinkConfig
    config: KafkaSinkConfig

    def __init__(self, config: KafkaSinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        self.topic = context.address("topic", config.topic)
        self.key = None if config.key is None else context.address("key", config.key)
        problems: list[Problem] = []
        self.custom_headers: list[tuple[str, Template]] = []
        for name, text in config.headers.items():
            if name.lower() in RESERVED_HEADERS:
                log.warning("%s.headers.%s: kete sets this header itself; the setting is ignored", context.path, name)
            elif text.strip():
                self.custom_headers.append((name, context.template(f"headers.{name}", text)))
        extra = dict(config.model_extra or {})
        if config.java_key_settings:
            extra["key"] = config.java_key_settings
        settings, origin, found = client_settings(extra, role="producer", managed=PRODUCER_MANAGED, tls=config.tls)
        problems += found
        if "acks" not in settings and "request.required.acks" not in settings:
            set_default(settings, "acks", "all")
            set_default(settings, "enable.idempotence", "true")
        for name, value in PRODUCER_DEFAULTS.items():
            set_default(settings, name, value)
        problems += librdkafka_problems("producer", settings, origin)
        raise_problems(problems, context.path)
        if config.pool:
            log.info("%s.pool: not needed by kete (one producer per route, thread-safe); ignored", context.path)
        if not config.encoding.identity:
            log.warning(
                "%s: content-encoding and content-transfer-encoding are not applied to Kafka records, as in KETE;"
                " compression.type compresses them",
                context.path,
            )
        self.settings = settings
        self.servers = settings["bootstrap.servers"]
        self._producer: Producer | None = None
        self._worker = Worker(f"kete-kafka-{context.route}")
        self._trouble: str | None = None
        self._fatal: KafkaError | None = None
        self._topics: dict[str, PermanentError | None] = {}
        self._headers: dict[tuple[Any, ...], list[tuple[str, bytes]]] = {}
        self._failures: list[tuple[bytes, KafkaError]] = []
        timeout = settings.get("message.timeout.ms") or settings.get("delivery.timeout.ms") or "300000"
        self._timeout = int(timeout) / 1000

    # ------------------------------------------------------------------ connection

    def _on_error(self, error: KafkaError) -> None:
        if error.fatal():
            self._fatal = error
            log.error(
                "route '%s': the Kafka producer failed: %s; a new one is made", self.context.route, describe(error)
            )
        elif error.code() in UNREACHABLE and (error.code() != KafkaError._ALL_BROKERS_DOWN or self._trouble is None):
            # _AUTHENTICATION says more than the _ALL_BROKERS_DOWN that follows it.
            self._trouble = describe(error)

    def _on_failure(self, error: KafkaError, record: Any) -> None:
        self._failures.append((record.value() or b"", error))

    def _ensure_producer(self) -> Producer:
        if self._fatal is not None and self._producer is not None:
            self._producer.purge()
            self._producer = None
            self._fatal = None
        if self._producer is None:
            self._producer = Producer({
                **self.settings,
                # Handled by confluent-kafka, not librdkafka: successful deliveries call no Python code.
                "delivery.report.only.error": True,
                # One callback for the producer rather than one per record: a record's own
                # callback cost a Python object per record.
                "on_delivery": self._on_failure,
                "error_cb": self._on_error,
                "logger": LibrdkafkaLog(f"route '{self.context.route}'"),
            })  # fmt: skip
        return self._producer

    def _check(self, producer: Producer) -> None:
        """Fetch the cluster's metadata; raise :class:`Unavailable` when that fails."""
        try:
            producer.list_topics(timeout=self.config.connect_timeout)
        except KafkaException as exc:
            producer.poll(0)  # serves error_cb, which has the reason (refused, bad credentials)
            reason = self._trouble or describe(exc.args[0])
            raise Unavailable(f"cannot reach Kafka at {self.servers}: {reason}") from None
        self._trouble = None

    async def start(self) -> None:
        """Make the producer and check that the cluster answers."""
        await self._worker.run(self._check, self._ensure_producer())

    # ------------------------------------------------------------------ sending

    def _topic_problem(self, topic: str | PermanentError) -> PermanentError | None:
        if isinstance(topic, PermanentError):
            return topic  # a variable of the topic has no value for this event
        problem = self._topics.get(topic, False)
        if problem is False:
            reason = topic_problem(topic)
            problem = (
                PermanentError(f"rendered topic {topic!r} is not a legal Kafka topic name: {reason}")
                if reason
                else None
            )
            if len(self._topics) >= 10_000:
                self._topics.clear()
            self._topics[topic] = problem
        return problem

    def _headers_for(self, event: Event, content_type: str) -> list[tuple[str, bytes]]:
        values = tuple(template.render(event) for _, template in self.custom_headers) if self.custom_headers else ()
        cache_key = (event.kind, event.event_type, content_type, values)
        headers = self._headers.get(cache_key)
        if headers is None:
            custom = zip(self.custom_headers, values, strict=True)
            headers = [
                # A header whose template has no value for this event is not sent, as a blank one.
                *((name, value.encode()) for (name, _), value in custom if isinstance(value, str) and value.strip()),
                ("eventkind", event.kind.encode()),
                ("eventtype", event.event_type.encode()),
                ("contenttype", content_type.encode()),
            ]
            if len(self._headers) >= 10_000:
                self._headers.clear()
            self._headers[cache_key] = headers
        return headers

    def _key_for(self, event: Event) -> bytes | PermanentError | None:
        if self.key is None:
            return event.event_type.encode()
        rendered = self.key.render(event)
        if isinstance(rendered, PermanentError):
            return rendered
        return rendered.encode() if rendered else None

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        producer = self._ensure_producer()
        if self._trouble is not None:
            # The last batch found the cluster unreachable: ask before queueing more.
            await self._worker.run(self._check, producer)
        reports = _Reports(len(messages))
        results = reports.results
        sent_to = reports.topics
        self._failures = []
        produce = producer.produce
        topics = self._topics
        headers_cache = self._headers
        plain = not self.custom_headers and self.key is None
        rendered = self.topic.render_all([message.event for message in messages])
        for index, (message, topic) in enumerate(zip(messages, rendered, strict=True)):
            event = message.event
            problem = topics.get(topic, False)
            if problem is not None:
                problem = self._topic_problem(topic)
                if problem is not None:
                    results[index] = problem
                    continue
            # Without custom headers or key template, both follow from the event type alone.
            headers = headers_cache.get((event.kind, event.event_type, message.content_type, ())) if plain else None
            if headers is None:
                headers = self._headers_for(event, message.content_type)
            key = event.event_type.encode() if plain else self._key_for(event)
            if isinstance(key, PermanentError):
                results[index] = key
                continue
            while True:
                try:
                    produce(topic, message.payload, key, headers=headers)
                    sent_to[index] = topic
                    break
                except BufferError:
                    # librdkafka's queue is full: let deliveries make room.
                    await self._worker.run(producer.poll, 0.05)
                except KafkaException as exc:
                    reports.errors.append((index, exc.args[0]))
                    break
        await self._wait(producer, reports)
        reports.attribute(self._failures, messages)
        existing = None
        if self._trouble is None and any(error.code() == KafkaError._MSG_TIMED_OUT for _, error in reports.errors):
            # Timed out with no sign of an outage: ask the cluster whether it answers and has the topics.
            existing = await self._worker.run(self._existing_topics, producer)
        return self._outcome(reports, existing)

    async def _wait(self, producer: Producer, reports: _Reports) -> None:
        deadline = time.monotonic() + self._timeout + 30
        while await self._worker.run(producer.flush, 1.0):
            if time.monotonic() > deadline:
                # librdkafka times messages out itself; this only guards against it never doing so.
                producer.purge()
                await self._worker.run(producer.flush, 1.0)
                raise Unavailable(f"Kafka at {self.servers} did not acknowledge messages in time")

    def _existing_topics(self, producer: Producer) -> set[str] | None:
        """The cluster's topics, or None (and the reason in ``_trouble``) when it does not answer."""
        try:
            metadata = producer.list_topics(timeout=self.config.connect_timeout)
        except KafkaException as exc:
            producer.poll(0)
            self._trouble = self._trouble or describe(exc.args[0])
            return None
        return {name for name, topic in metadata.topics.items() if topic.error is None}

    def _outcome(self, reports: _Reports, existing: set[str] | None) -> DeliveryResults:
        results = reports.results
        unreachable = None
        for index, error in reports.errors:
            code = error.code()
            if code in PERMANENT:
                results[index] = PermanentError(describe(error))
            elif code == KafkaError._MSG_TIMED_OUT and not self._trouble and existing is not None:
                topic = reports.topics[index]
                if topic in existing:
                    # The cluster answers but did not take it: a partition without a leader, an
                    # overloaded broker. An outage of that topic, not a problem of the event.
                    unreachable = unreachable or f"{describe(error)} (topic '{topic}' exists and the cluster answers)"
                else:
                    results[index] = KafkaDeliveryError(f"topic '{topic}' does not exist: {describe(error)}")
            elif code in UNREACHABLE or code in _LOST or code == KafkaError._MSG_TIMED_OUT:
                unreachable = unreachable or describe(error)
            else:
                results[index] = KafkaDeliveryError(describe(error))
        if unreachable is not None:
            self._trouble = self._trouble or unreachable
            raise Unavailable(f"cannot reach Kafka at {self.servers}: {self._trouble}")
        if None in results:  # something was delivered
            self._trouble = None
        return results if any(result is not None for result in results) else None

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            remaining = await self._worker.run(producer.flush, self._timeout)
            if remaining:
                log.warning("route '%s': %d Kafka message(s) not acknowledged at close", self.context.route, remaining)
        self._worker.shutdown()


class _Reports:
    """The failed deliveries of one batch: every message handed to librdkafka and not reported
    failed once the flush is done was delivered."""

    __slots__ = ("errors", "results", "topics")

    def __init__(self, size: int) -> None:
        self.results: list[BaseException | None] = [None] * size
        self.topics: list[str | None] = [None] * size
        self.errors: list[tuple[int, KafkaError]] = []

    def attribute(self, failures: list[tuple[bytes, KafkaError]], messages: Sequence[Message]) -> None:
        """Find the messages of the delivery reports *failures* by their payload. Messages with
        equal payloads are interchangeable: a failure goes to the first not yet failed."""
        if not failures:
            return
        where: dict[bytes, deque[int]] = {}
        for index, message in enumerate(messages):
            if self.topics[index] is not None:
                where.setdefault(message.payload or b"", deque()).append(index)
        for payload, error in failures:
            indexes = where.get(payload)
            if indexes:
                self.errors.append((indexes.popleft(), error))
