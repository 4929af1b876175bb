"""``destination.kind = "amqp-0.9.1"``: each event is published to a templated exchange with a templated
routing key over one aiormq connection per route; see the README for settings.

A batch is published pipelined: every message goes out at once on one channel in confirm mode, then the
sink waits for all the broker's confirms. A nack, or (with ``mandatory``) a return because no queue takes
the message, fails that event alone. An exchange is checked (a passive declare, on a channel of its own,
remembered) before the first message goes to it, so that a missing one fails its events instead of closing
the publishing channel under the whole batch. A broker that cannot be reached (or refuses the login) makes
the route wait: :class:`~kete_core.Unavailable`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import aiormq
from aiormq.abc import ConfirmationFrameType
from pamqp.commands import Basic
from yarl import URL

from kete_amqp.settings import Amqp091SinkConfig
from kete_core import (
    ConfigError,
    DeliveryResults,
    Message,
    PermanentError,
    RenderError,
    Sink,
    SinkContext,
    Unavailable,
    enabled_client_ssl,
)

log = logging.getLogger("kete.amqp")

# AMQP short strings (exchange names, routing keys) hold at most 255 bytes.
_SHORTSTR = 255
_KNOWN_EXCHANGES = 10_000
_RESERVED_HEADERS = ("eventkind", "eventtype")


class Refused(Exception):
    """The broker did not take one message (a nack, or a return of a mandatory message)."""


class ConnectionLost(Exception):
    """The connection or channel closed before the broker confirmed the message; it is sent again."""


def _too_long(what: str, text: str) -> PermanentError | None:
    size = len(text.encode())
    if size > _SHORTSTR:
        return PermanentError(f"the {what} is {size} bytes long; AMQP allows at most {_SHORTSTR}")
    return None


class Amqp091Sink(Sink):
    """Publishes each message to RabbitMQ (or any AMQP 0.9.1 broker); see the module documentation."""

    Config = Amqp091SinkConfig
    config: Amqp091SinkConfig

    def __init__(self, config: Amqp091SinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        self._ssl = enabled_client_ssl(config.tls, f"{context.path}.tls")
        for name in config.headers:
            if not name.strip():
                raise ConfigError("a header needs a name", path=f"{context.path}.headers")
        self.exchange = context.address("exchange", config.exchange)
        self.routing_key = context.address("routing-key", config.routing_key)
        self.where = f"{config.host}:{config.port} (virtual host {config.virtual_host!r})"
        self._url = URL.build(
            scheme="amqps" if config.tls.enabled else "amqp",
            host=config.host,
            port=config.port,
            user=config.username or "guest",
            password=config.password.get_secret_value() or "guest",
            path="/" + quote(config.virtual_host, safe=""),
            query={"heartbeat": str(config.requested_heartbeat_seconds), "name": f"kete route {context.route}"},
            encoded=False,
        )
        self._headers: dict[str, Any] = {
            name: value for name, value in config.headers.items() if name.lower() not in _RESERVED_HEADERS
        }
        self._properties = {
            "delivery_mode": 2 if config.delivery_mode == "persistent" else 1,
            "priority": config.priority,
            "expiration": str(config.time_to_live_seconds * 1000) if config.time_to_live_seconds > 0 else None,
        }
        self._connection: aiormq.abc.AbstractConnection | None = None
        self._channel: aiormq.abc.AbstractChannel | None = None
        self._probe: aiormq.abc.AbstractChannel | None = None
        self._exchanges: set[str] = {""}  # the default exchange always exists

    # ------------------------------------------------------------------ connection

    async def start(self) -> None:
        await self._open()

    async def _open(self) -> aiormq.abc.AbstractChannel:
        """The publishing channel, connecting first if needed; :class:`Unavailable` when the broker cannot be had."""
        if self._channel is not None and not self._channel.is_closed:
            return self._channel
        config = self.config
        try:
            if self._connection is None or self._connection.is_closed:
                self._connection = None
                self._exchanges = {""}
                timeout = config.connection_timeout_seconds + config.handshake_timeout_seconds
                async with asyncio.timeout(timeout or None):
                    self._connection = await aiormq.connect(self._url, context=self._ssl)
            async with asyncio.timeout(config.channel_rpc_timeout_seconds or None):
                self._channel = await self._connection.channel(
                    publisher_confirms=config.publisher_confirms, on_return_raises=True
                )
        except aiormq.exceptions.ProbableAuthenticationError as exc:
            await self._drop()
            raise Unavailable(
                f"RabbitMQ at {self.where} refused the login of user {config.username!r}: {exc}"
            ) from None
        except (OSError, TimeoutError, aiormq.exceptions.AMQPError) as exc:
            await self._drop()
            raise Unavailable(f"cannot reach RabbitMQ at {self.where}: {_describe(exc)}") from None
        return self._channel

    async def _drop(self) -> None:
        connection, self._connection, self._channel, self._probe = self._connection, None, None, None
        if connection is not None:
            try:
                await asyncio.wait_for(connection.close(), timeout=2)
            except Exception as exc:  # already broken: nothing more to do
                log.debug("closing a broken connection: %s", _describe(exc))

    async def close(self) -> None:
        await self._drop()

    async def _exchange_problem(self, name: str) -> Exception | None:
        """Why messages cannot go to exchange *name* (it does not exist), or None; known names are remembered."""
        if name in self._exchanges:
            return None
        assert self._connection is not None
        try:
            if self._probe is None or self._probe.is_closed:
                self._probe = await self._connection.channel()
            await asyncio.wait_for(
                self._probe.exchange_declare(name, passive=True), self.config.channel_rpc_timeout_seconds or None
            )
        except aiormq.exceptions.ChannelNotFoundEntity as exc:
            return Refused(f"exchange {name!r} does not exist in virtual host {self.config.virtual_host!r}: {exc}")
        except aiormq.exceptions.ChannelAccessRefused as exc:
            return Refused(f"no access to exchange {name!r}: {exc}")
        if len(self._exchanges) >= _KNOWN_EXCHANGES:
            self._exchanges = {""}
        self._exchanges.add(name)
        return None

    # ------------------------------------------------------------------ sending

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        channel = await self._open()
        events = [message.event for message in messages]
        results: list[BaseException | None] = [None] * len(messages)
        jobs: list[tuple[int, str, str]] = []
        try:
            for index, (exchange, key) in enumerate(
                zip(self.exchange.render_all(events), self.routing_key.render_all(events), strict=True)
            ):
                problem = _address_problem(exchange, key) or await self._exchange_problem(str(exchange))
                if problem is not None:
                    results[index] = problem
                else:
                    jobs.append((index, str(exchange), str(key)))
        except (aiormq.exceptions.AMQPError, OSError, TimeoutError) as exc:
            await self._drop()
            raise Unavailable(f"lost RabbitMQ at {self.where}: {_describe(exc)}") from None
        outcomes = await asyncio.gather(
            *(self._publish(channel, messages[index], exchange, key) for index, exchange, key in jobs),
            return_exceptions=True,
        )
        lost = 0
        for (index, exchange, _key), outcome in zip(jobs, outcomes, strict=True):
            error = self._outcome(outcome, exchange)
            lost += isinstance(error, ConnectionLost)
            results[index] = error
        if lost:
            await self._drop()
            if lost == len(messages):
                raise Unavailable(f"lost RabbitMQ at {self.where} before it confirmed the batch")
        return results

    async def _publish(self, channel: aiormq.abc.AbstractChannel, message: Message, exchange: str, key: str) -> Any:
        event = message.event
        properties = Basic.Properties(
            content_type=message.content_type,
            headers={**self._headers, "eventkind": event.kind, "eventtype": event.event_type},
            **self._properties,
        )
        return await channel.basic_publish(
            message.payload,
            exchange=exchange,
            routing_key=key,
            properties=properties,
            mandatory=self.config.mandatory,
            timeout=self.config.confirm_timeout_seconds,
        )

    def _outcome(self, outcome: ConfirmationFrameType | BaseException | None, exchange: str) -> BaseException | None:
        if outcome is None or isinstance(outcome, Basic.Ack):
            return None
        if isinstance(outcome, Basic.Nack):
            return Refused(f"RabbitMQ refused the message (nack) on exchange {exchange!r}")
        if isinstance(outcome, aiormq.exceptions.PublishError):
            frame = outcome.frame
            return Refused(
                f"RabbitMQ returned the message: {frame.reply_code} {frame.reply_text} "
                f"(exchange {frame.exchange!r}, routing key {frame.routing_key!r})"
            )
        if isinstance(outcome, aiormq.exceptions.DeliveryError):
            return Refused(f"RabbitMQ refused the message (nack) on exchange {exchange!r}")
        if isinstance(outcome, TimeoutError):
            return ConnectionLost(f"no confirm from RabbitMQ within {self.config.confirm_timeout_seconds:g} s")
        if isinstance(outcome, aiormq.exceptions.ChannelClosed | aiormq.exceptions.AMQPConnectionError | OSError):
            self._exchanges.discard(exchange)
            return ConnectionLost(f"the connection to RabbitMQ closed before the confirm: {_describe(outcome)}")
        if isinstance(outcome, Exception):
            return outcome
        raise outcome  # CancelledError and the like


def _address_problem(exchange: str | RenderError, key: str | RenderError) -> Exception | None:
    if isinstance(exchange, RenderError):
        return exchange
    if isinstance(key, RenderError):
        return key
    return _too_long("exchange name", exchange) or _too_long("routing key", key)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
