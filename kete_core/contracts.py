"""What a component must be: the contracts of sources, matchers, renderers, serializers and sinks.

A component type is a class that a distribution declares under one of the entry-point groups
``kete.sources``, ``kete.matchers``, ``kete.renderers``, ``kete.serializers`` or ``kete.sinks``;
the entry-point name is the ``kind`` users write in the configuration. kete imports a class only
when the configuration names its kind, validates the component's settings with the class's
nested ``Config`` model, and then calls the methods below. Built-in components (the ``file``
source, the ``stdout`` sink, the ``json`` serializer and the ``kete`` renderer) are declared the
same way by ``kete-core`` itself.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from kete_core.errors import ConfigError, ConfigWarning, RenderError
from kete_core.event import Event


def _kebab(name: str) -> str:
    return name.replace("_", "-")


class ComponentConfig(BaseModel):
    """Base of every component's settings model.

    Settings are written in kebab case (``max-bytes``) and map to snake-case fields
    (``max_bytes``). Unknown settings are errors, so a typo never goes unnoticed; a component
    that passes settings through to a client library (Kafka's producer) opts out with
    ``model_config = ConfigDict(extra="allow")``. Values from ``.properties`` files and
    environment variables arrive as strings and are converted by pydantic.
    """

    model_config = ConfigDict(extra="forbid", alias_generator=_kebab, populate_by_name=True, frozen=True)


# --------------------------------------------------------------------------- matchers


class Matcher(ABC):
    """Decides whether one value matches one pattern.

    Realm matchers are given realm names, event matchers event types (``LOGIN``, ``USER_CREATE``).
    kete parses ``<kind>:<pattern>`` and ``<kind>:not:<pattern>`` itself, handles ``not:``, blank
    values and caching; a matcher only compiles its pattern and answers :meth:`matches`.

    Contract:

    - ``__init__`` compiles the pattern once and raises ``ValueError`` with a readable reason when
      it is invalid; kete reports that as a configuration error, never at the first event.
    - matching is case-insensitive, as in the original KETE.
    - :meth:`matches` is pure: the same value always gives the same answer, so kete may cache it.
    """

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    @abstractmethod
    def matches(self, value: str) -> bool:
        """Return True when *value* (never blank) matches this matcher's pattern."""


# --------------------------------------------------------------------------- renderers


class Template(Protocol):
    """A compiled template, ready to render a destination setting for one event."""

    source: str
    """The template text as configured."""

    variables: frozenset[str]
    """The names of the variables the template uses."""

    def render(self, event: Event) -> str | RenderError:
        """Return the setting's value for *event*, or a :class:`~kete_core.errors.RenderError`
        (returned, not raised) when a variable it uses has no value for *event* or the escape
        refused a value. Never raises for an event."""
        ...

    def render_all(self, events: Iterable[Event]) -> list[str | RenderError]:
        """Return :meth:`render`'s value for each of *events*, in order: how a sink renders a
        batch, at less cost per event than one call each."""
        ...


Escape = Callable[[str], str]
"""Makes a variable's value fit where the template puts it (percent-encoding for a URL); raises
``ValueError`` to refuse a value, which renders as a :class:`~kete_core.errors.RenderError`."""


VariableGetter = Callable[[Event], "str | None"]
"""Gives a template variable's base value for an event, or None when the event has none."""


class Renderer(ABC):
    """Compiles destination settings that name things (paths, topics, URLs, keys, headers).

    One renderer serves a whole run (``[kete] renderer``, default ``kete``, the original's
    ``${realmLowerCase}`` syntax). A renderer must never execute code found in a template.

    :param config: the renderer's validated settings (``[kete.renderer-settings]``).
    :param variables: base variables (``realm``, ``eventType``, …) and those plugins add through
        :func:`~kete_core.hookspecs.kete_template_variables`.
    """

    Config: ClassVar[type[ComponentConfig]] = ComponentConfig

    def __init__(self, config: ComponentConfig, variables: Mapping[str, VariableGetter]) -> None:
        self.config = config
        self.variables = variables

    @abstractmethod
    def compile(self, text: str, escape: Escape | None = None) -> Template:
        """Compile *text* once, at load. Raise ``ValueError`` naming any unknown variable.

        *escape*, when given, is applied to each variable's value as it is substituted (not to the
        template's own text)."""


# --------------------------------------------------------------------------- serializers


class Serializer(ABC):
    """Turns an event into the bytes a sink sends.

    kete serializes each event once per distinct serializer (same kind and settings), however many
    routes use it. Binary formats are welcome: payloads are ``bytes``.

    :cvar content_type: the MIME type sinks announce (``contenttype`` header, ``Content-Type``).
    :cvar binary: True when payloads may hold arbitrary bytes (sinks that need text can refuse).
    """

    Config: ClassVar[type[ComponentConfig]] = ComponentConfig
    content_type: ClassVar[str] = "application/octet-stream"
    binary: ClassVar[bool] = True

    def __init__(self, config: ComponentConfig) -> None:
        self.config = config

    @abstractmethod
    def serialize(self, event: Event) -> bytes:
        """Return the payload for *event*; raise ``ValueError`` when this event cannot be written."""

    def serialize_batch(self, events: Sequence[Event]) -> list[bytes]:
        """Return the payload of each of *events*, in order. kete calls this with every batch it
        accepts; when it raises, kete calls :meth:`serialize` event by event to find the ones that
        cannot be written. The default calls :meth:`serialize` for each; override it when a whole
        batch is written faster."""
        serialize = self.serialize
        return [serialize(event) for event in events]


# --------------------------------------------------------------------------- sinks


class Message:
    """One event on its way to one route's sink.

    :ivar event: the routed event.
    :ivar payload: the serialized event.
    :ivar content_type: the serializer's content type.
    """

    __slots__ = ("content_type", "event", "payload")

    def __init__(self, event: Event, payload: bytes, content_type: str) -> None:
        self.event = event
        self.payload = payload
        self.content_type = content_type


@dataclass(frozen=True)
class SinkContext:
    """What a sink gets from kete besides its settings.

    :ivar route: the route this sink instance delivers for (one sink instance per route).
    :ivar path: the config path of the sink's settings, e.g. ``routes.logins.destination``.
    :ivar renderer: the run's renderer; use :meth:`template` rather than calling it directly.
    :ivar serializer: the route's serializer, so a sink can refuse formats it cannot carry.
    :ivar serializer_kind: the serializer's ``kind`` as the configuration names it (``avro``), for
        messages; empty when the context was not built from a configuration.
    """

    route: str
    path: str
    renderer: Renderer
    serializer: Serializer
    serializer_kind: str = ""
    addresses: dict[str, Template] = field(default_factory=dict, compare=False)
    """The address templates compiled through :meth:`address`, by setting (for ``kete check``)."""

    def template(self, setting: str, text: str, escape: Escape | None = None) -> Template:
        """Compile the templated setting *setting* (e.g. ``"headers.x-realm"``); errors name its
        config path. For a setting that names where an event goes, use :meth:`address`."""
        try:
            return self.renderer.compile(text, escape)
        except ValueError as exc:
            raise ConfigError(str(exc), path=f"{self.path}.{setting}") from exc

    def address(self, setting: str, text: str, escape: Escape | None = None) -> Template:
        """Compile a setting that names where an event goes: a URL, topic, path or key. An event it
        renders a :class:`~kete_core.errors.RenderError` for must fail (for this route) rather
        than go to an address with a hole in it; ``kete check`` warns about addresses that use
        variables some of the route's events have no value for."""
        template = self.template(setting, text, escape)
        self.addresses[setting] = template
        return template


DeliveryResults = Sequence[BaseException | None] | None
"""What :meth:`Sink.send` returns: None when every message was delivered, else one entry per
message, None for delivered ones and the exception for the others."""


class Sink(ABC):
    """Delivers a route's messages to a destination (``destination.kind``).

    Each route gets its own sink instance. kete calls :meth:`start` once before the first batch,
    :meth:`send` for each batch (never concurrently for one instance, so order within a route is
    kept) and :meth:`close` once at the end, after the last batch.

    Contract:

    - :meth:`send` returns only when each message is acknowledged by the destination (written,
      flushed as configured, acked by the broker) or has failed. Raising means the whole batch
      failed and may be retried; per-message outcomes are returned as :data:`DeliveryResults`.
    - A failure of one event (rendering its address, encoding it, writing it) fails that event
      alone: it is returned for its message, and the other messages are delivered once. Raise only
      when none of the batch was delivered, since kete then sends all of it again.
    - A failure that retrying cannot fix is a :class:`~kete_core.errors.PermanentError`.
    - :meth:`close` flushes whatever was accepted.
    """

    Config: ClassVar[type[ComponentConfig]] = ComponentConfig

    def __init__(self, config: ComponentConfig, context: SinkContext) -> None:
        self.config = config
        self.context = context

    async def start(self) -> None:  # noqa: B027  (optional hook with a do-nothing default)
        """Connect or open what the sink needs; raising makes kete retry before the next batch."""

    @abstractmethod
    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        """Deliver *messages* in order; see the class contract for the return value."""

    async def close(self) -> None:  # noqa: B027
        """Flush and release resources."""


# --------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class Rejection:
    """An input record a source could not turn into an event.

    :ivar source: the source's name.
    :ivar where: the position in the input, e.g. ``events.jsonl:17``.
    :ivar reason: why it was rejected.
    :ivar raw: the start of the record, for the operator.
    """

    source: str
    where: str
    reason: str
    raw: bytes = b""


@dataclass
class Receipt:
    """Handed back for each submitted batch; :attr:`done` resolves once every route that matched
    any of its events has delivered them (or given up on them after its retries)."""

    done: asyncio.Future[None]
    pending: int = field(default=0)

    def release(self) -> None:
        """One route batch finished (kete's use)."""
        self.pending -= 1
        if self.pending == 0 and not self.done.done():
            self.done.set_result(None)


class Intake(Protocol):
    """Where a source hands its events to kete."""

    stopping: asyncio.Event
    """Set when kete is asked to stop; a source returns soon after."""

    @property
    def congested(self) -> bool:
        """True while :meth:`submit` would wait: the spool is full, or a route whose destination is
        slow (not down) has its in-memory queue full. Answered at once, never waiting. A source that
        must answer quickly (an HTTP receiver answering 503) checks this right before submitting:
        when it is False, a :meth:`submit` called without awaiting anything in between does not
        wait."""
        ...

    @property
    def checkpoint(self) -> bytes | None:
        """The position this source stored with its last accepted batch (None the first time)."""
        ...

    async def submit(self, events: Sequence[Event], checkpoint: bytes | None = None) -> Receipt:
        """Accept *events*: route them and write them to the spool, together with *checkpoint* (the
        source's position after them, read back through :attr:`checkpoint` after a restart), in one
        transaction. Returns once they are accepted: the source may then acknowledge them to its
        upstream. Waits while the spool is full (back-pressure). Never cancel a pending call.
        Await ``receipt.done`` to learn that every matching route delivered them."""
        ...

    def set_ready(self, ready: bool, reason: str | None = None) -> None:
        """Report whether the source is connected to its upstream, for ``/ready``."""
        ...

    def reject(self, rejection: Rejection) -> None:
        """Report a record that is not an event; it is logged and counted, the run goes on."""
        ...


class Source(ABC):
    """Reads events from somewhere (``[sources.<name>] kind = ...``) and submits them to kete.

    :meth:`run` reads until its input ends (a replay) and returns, or until ``intake.stopping`` is
    set. Batches keep the per-event cost low; a source should submit what it has rather than wait
    long for a full batch. A source resumes from ``intake.checkpoint`` and passes its new position
    with each batch, so a restart neither loses nor repeats what was accepted; a source with an
    upstream that acknowledges (Kafka offsets, HTTP responses) acknowledges only after ``submit``.
    """

    Config: ClassVar[type[ComponentConfig]] = ComponentConfig
    resumed_from: str | None = None
    """Set by :meth:`run` when it continued from ``intake.checkpoint``: where, in words (``after
    line 593 of events.jsonl``), for the summary at the end of the run."""

    def __init__(self, name: str, config: ComponentConfig) -> None:
        self.name = name
        self.config = config

    @abstractmethod
    async def run(self, intake: Intake) -> None:
        """Read and submit events until the input ends or ``intake.stopping`` is set."""

    def warnings(self) -> list[ConfigWarning]:
        """Settings that are valid but will probably not work as meant (an input file that does
        not exist), each naming its config path; ``kete check`` prints them and ``kete run`` logs
        them. Called once before the run; must not block."""
        return []

    async def close(self) -> None:  # noqa: B027
        """Release resources; called once after :meth:`run` returned."""
