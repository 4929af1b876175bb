"""``[sources.<name>] kind = "kafka"``: Keycloak events from Kafka topics, in a consumer group.

Each record's value is one event, KETE JSON or Keycloak's own JSON; other records are rejected
with their position (``topic/partition@offset``) and skipped. Offsets are committed only once
every route the events matched has delivered them (or dead-lettered them), in order, so a crash
or a kill re-delivers what was in flight instead of losing it. On a rebalance, the partitions
taken away wait (up to ``revoke-timeout``) for their in-flight events, their finished offsets are
committed, and the rest is delivered again by the partitions' next owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from kete_core import Event, Intake, MalformedEvent, Rejection, Source, parse_event
from kete_kafka.client import UNREACHABLE, LibrdkafkaLog, Worker, describe
from kete_kafka.settings import (
    KafkaSourceConfig,
    Problem,
    client_settings,
    librdkafka_problems,
    raise_problems,
    set_default,
    topic_problem,
)

log = logging.getLogger("kete.kafka")

Partition = tuple[str, int]

CONSUMER_DEFAULTS = {
    "auto.offset.reset": "earliest",
    "enable.partition.eof": "false",
    # The Java client's reconnect ceiling (librdkafka's is 10 s).
    "reconnect.backoff.max.ms": "1000",
}

CONSUMER_MANAGED = {
    "enable.auto.commit": "kete commits offsets itself, after the events are delivered",
    "enable.auto.offset.store": "kete commits offsets itself, after the events are delivered",
    "on_commit": "set by kete",
    "error_cb": "set by kete",
    "logger": "set by kete",
    "stats_cb": "not supported",
    "throttle_cb": "not supported",
    "oauth_cb": "not supported",
}


@dataclass
class _Batch:
    """Submitted records whose offsets may be committed once ``done`` resolves."""

    done: asyncio.Future[None]
    offsets: dict[Partition, int]


class KafkaSource(Source):
    """Consumes events in a consumer group; see the module documentation."""

    Config = KafkaSourceConfig
    config: KafkaSourceConfig

    def __init__(self, name: str, config: KafkaSourceConfig) -> None:
        super().__init__(name, config)
        path = f"sources.{name}"
        settings, origin, problems = client_settings(
            dict(config.model_extra or {}), role="consumer", managed=CONSUMER_MANAGED, tls=config.tls
        )
        if "group.id" not in settings:
            problems.append(Problem("group.id", "required: the consumer group that kete processes share"))
        for index, topic in enumerate(config.topics):
            reason = None if topic.startswith("^") else topic_problem(topic)
            if reason:
                problems.append(Problem(f"topics.{index}", f"'{topic}': {reason}"))
        for key, value in CONSUMER_DEFAULTS.items():
            set_default(settings, key, value)
        settings.update({"enable.auto.commit": "false", "enable.auto.offset.store": "false"})
        problems += librdkafka_problems("consumer", settings, origin)
        raise_problems(problems, path)
        self.settings = settings
        self.servers = settings["bootstrap.servers"]
        self._worker = Worker(f"kete-kafka-{name}")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._intake: Intake | None = None
        self._batches: deque[_Batch] = deque()
        self._uncommitted: dict[Partition, int] = {}
        self._last_commit = 0.0
        self._trouble: str | None = None
        self._probed = 0.0
        self._warned: dict[str, float] = {}

    # ------------------------------------------------------------------ callbacks (worker thread)

    def _on_error(self, error: KafkaError) -> None:
        if error.code() in UNREACHABLE:
            reason = describe(error)
            if error.code() == KafkaError._ALL_BROKERS_DOWN and self._trouble is not None:
                return
            self._trouble = reason
            self._throttled(logging.WARNING, f"source '{self.name}': cannot reach Kafka at {self.servers}: {reason}")
            self._call_soon(self._set_ready, False, f"cannot reach Kafka: {reason}")
        elif error.fatal():
            log.error("source '%s': the Kafka consumer failed: %s", self.name, describe(error))
        else:
            self._throttled(logging.WARNING, f"source '{self.name}': Kafka: {describe(error)}")

    def _on_commit(self, error: KafkaError | None, partitions: list[TopicPartition]) -> None:
        if error is not None and error.code() != KafkaError._NO_OFFSET:
            self._throttled(logging.WARNING, f"source '{self.name}': committing offsets failed: {describe(error)}")

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("source '%s': assigned %s", self.name, _names(partitions))
        self._trouble = None
        self._call_soon(self._set_ready, True, None)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        revoked = {(tp.topic, tp.partition) for tp in partitions}
        if not revoked or self._loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._settle(revoked), self._loop)
        try:
            offsets = future.result(self.config.revoke_timeout + 5)
        except Exception:
            future.cancel()
            log.exception("source '%s': settling revoked partitions failed", self.name)
            return
        if offsets:
            try:
                consumer.commit(offsets=_partitions(offsets), asynchronous=False)
            except KafkaException as exc:
                log.warning("source '%s': committing revoked partitions failed: %s", self.name, exc)
        log.info("source '%s': revoked %s (committed %d partition(s))", self.name, _names(partitions), len(offsets))

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        lost = {(tp.topic, tp.partition) for tp in partitions}
        log.warning("source '%s': lost %s; their in-flight events will be read again", self.name, _names(partitions))
        if self._loop is not None:
            self._call_soon(self._forget, lost)

    # ------------------------------------------------------------------ loop side

    def _call_soon(self, callback: Any, *args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(callback, *args)

    def _set_ready(self, ready: bool, reason: str | None) -> None:
        if self._intake is not None:
            self._intake.set_ready(ready, reason)

    def _throttled(self, level: int, message: str) -> None:
        key = message[:80]
        now = time.monotonic()
        if now - self._warned.get(key, -60.0) >= 30.0:
            self._warned[key] = now
            log.log(level, message)

    def _forget(self, partitions: set[Partition]) -> None:
        for batch in self._batches:
            for partition in partitions:
                batch.offsets.pop(partition, None)
        # A batch left with no partitions of ours must not hold up the commits of later ones.
        self._batches = deque(batch for batch in self._batches if batch.offsets)
        for partition in partitions:
            self._uncommitted.pop(partition, None)

    async def _settle(self, revoked: set[Partition]) -> dict[Partition, int]:
        """Wait (bounded) for the in-flight batches of *revoked*, then return the offsets of those
        partitions that may be committed and stop tracking them."""
        waiting = [batch.done for batch in self._batches if revoked & batch.offsets.keys()]
        if waiting:
            await asyncio.wait(waiting, timeout=self.config.revoke_timeout)
        self._collect()
        offsets = {partition: offset for partition, offset in self._uncommitted.items() if partition in revoked}
        blocked: set[Partition] = set()
        for batch in self._batches:
            for partition, offset in batch.offsets.items():
                if partition in revoked and partition not in blocked:
                    if batch.done.done():
                        offsets[partition] = offset
                    else:
                        blocked.add(partition)
        if blocked:
            log.warning(
                "source '%s': %d revoked partition(s) still had events in flight; their next owner reads them again",
                self.name,
                len(blocked),
            )
        self._forget(revoked)
        return offsets

    def _collect(self) -> None:
        """Move the offsets of finished batches, in order, to the ones to commit."""
        batches = self._batches
        while batches and batches[0].done.done():
            self._uncommitted.update(batches.popleft().offsets)

    def _commit(self, consumer: Consumer, *, now: bool = False) -> None:
        self._collect()
        if not self._uncommitted:
            return
        if not now and time.monotonic() - self._last_commit < self.config.commit_interval:
            return
        offsets, self._uncommitted = self._uncommitted, {}
        self._last_commit = time.monotonic()
        try:
            consumer.commit(offsets=_partitions(offsets), asynchronous=True)
        except KafkaException as exc:
            self._throttled(logging.WARNING, f"source '{self.name}': committing offsets failed: {exc}")

    # ------------------------------------------------------------------ reading

    def _parse(self, records: list[Any], intake: Intake) -> tuple[list[Event], dict[Partition, int]]:
        events: list[Event] = []
        offsets: dict[Partition, int] = {}
        names = self.config.realm_names
        for record in records:
            error = record.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    self._throttled(logging.WARNING, f"source '{self.name}': Kafka: {describe(error)}")
                continue
            topic, partition, offset = record.topic(), record.partition(), record.offset()
            offsets[(topic, partition)] = offset + 1
            value = record.value()
            where = f"{topic}/{partition}@{offset}"
            if not value:
                intake.reject(Rejection(self.name, where, "the record has no value"))
                continue
            try:
                events.append(parse_event(orjson.loads(value), names))
            except orjson.JSONDecodeError as exc:
                intake.reject(Rejection(self.name, where, f"not JSON: {exc}", value[:200]))
            except MalformedEvent as exc:
                intake.reject(Rejection(self.name, where, exc.message, value[:200]))
        return events, offsets

    async def _make_room(self, consumer: Consumer, intake: Intake) -> None:
        """Wait until fewer batches are in flight and the spool takes more, polling (paused) so
        the consumer keeps its place in the group meanwhile."""
        assignment = await self._worker.run(consumer.assignment)
        if assignment:
            await self._worker.run(consumer.pause, assignment)
        try:
            while not intake.stopping.is_set():
                self._commit(consumer)
                if len(self._batches) < self.config.max_in_flight and not intake.congested:
                    return
                if self._batches:
                    await asyncio.wait([self._batches[0].done], timeout=self.config.poll_timeout)
                else:
                    await asyncio.sleep(self.config.poll_timeout)
                # Paused partitions return nothing; polling serves rebalances and heartbeats.
                records = await self._worker.run(consumer.consume, self.config.batch_size, 0)
                if records:
                    await self._submit(records, intake)
        finally:
            assignment = await self._worker.run(consumer.assignment)
            if assignment:
                await self._worker.run(consumer.resume, assignment)

    async def _submit(self, records: list[Any], intake: Intake) -> None:
        events, offsets = self._parse(records, intake)
        if events:
            done = (await intake.submit(events)).done
        else:
            done = asyncio.get_running_loop().create_future()
            done.set_result(None)
        if offsets:
            self._batches.append(_Batch(done, offsets))

    async def run(self, intake: Intake) -> None:
        self._loop = asyncio.get_running_loop()
        self._intake = intake
        intake.set_ready(False, "joining the consumer group")
        consumer = Consumer({
            **self.settings,
            "error_cb": self._on_error,
            "on_commit": self._on_commit,
            "logger": LibrdkafkaLog(f"source '{self.name}'"),
        })  # fmt: skip
        try:
            await self._worker.run(
                lambda: consumer.subscribe(
                    list(self.config.topics),
                    on_assign=self._on_assign,
                    on_revoke=self._on_revoke,
                    on_lost=self._on_lost,
                )
            )
            while not intake.stopping.is_set():
                self._commit(consumer)
                if len(self._batches) >= self.config.max_in_flight or intake.congested:
                    await self._make_room(consumer, intake)
                    continue
                records = await self._worker.run(consumer.consume, self.config.batch_size, self.config.poll_timeout)
                if self._trouble is not None and (records or await self._reachable(consumer)):
                    self._trouble = None
                    intake.set_ready(True)
                if records:
                    await self._submit(records, intake)
        finally:
            await self._finish(consumer)

    async def _reachable(self, consumer: Consumer) -> bool:
        """Whether the cluster answers again (asked at most every 5 s), for readiness on an idle topic."""
        now = time.monotonic()
        if now - self._probed < 5.0:
            return False
        self._probed = now
        try:
            await self._worker.run(lambda: consumer.list_topics(timeout=2.0))
        except KafkaException:
            return False
        return True

    async def _finish(self, consumer: Consumer) -> None:
        """Wait (bounded) for what is in flight, commit what was delivered, leave the group."""
        waiting = [batch.done for batch in self._batches]
        if waiting:
            _done, pending = await asyncio.wait(waiting, timeout=self.config.shutdown_timeout)
            if pending:
                log.warning(
                    "source '%s': %d batch(es) not delivered yet; Kafka gives them again at the next start",
                    self.name,
                    len(pending),
                )
        self._collect()
        offsets, self._uncommitted = self._uncommitted, {}
        if offsets:
            try:
                await self._worker.run(lambda: consumer.commit(offsets=_partitions(offsets), asynchronous=False))
            except KafkaException as exc:
                log.warning("source '%s': committing offsets failed: %s", self.name, exc)
        self._batches.clear()
        await self._worker.run(consumer.close)

    async def close(self) -> None:
        self._worker.shutdown()


def _partitions(offsets: dict[Partition, int]) -> list[TopicPartition]:
    return [TopicPartition(topic, partition, offset) for (topic, partition), offset in offsets.items()]


def _names(partitions: Iterable[TopicPartition]) -> str:
    grouped: dict[str, list[int]] = {}
    for tp in partitions:
        grouped.setdefault(tp.topic, []).append(tp.partition)
    return ", ".join(f"{topic}{sorted(numbers)}" for topic, numbers in sorted(grouped.items())) or "nothing"
