"""Hook specifications: what a ``kete.hooks`` plugin may implement.

A hook plugin is a module declared under the entry-point group ``kete.hooks``; the entry-point
name must be the distribution's name (``kete-audit = "kete_audit.hooks"``), so
``[kete] disable-plugins`` works with the names users know. Implement a hook with
``@kete_core.hookimpl`` on a function of the same name. Hooks are synchronous; the lifecycle hooks
may return an awaitable, which kete awaits.

Components (sources, matchers, renderers, serializers, sinks) are not made by hooks: they are
classes found through their own entry-point groups (see :mod:`kete_core.contracts`). Hooks observe
and adjust what those components do. Hooks marked *hot path* run for every batch; kete skips
them entirely when no plugin implements them.

Each docstring below is the reference documentation of its hook; ``docs/hooks.md`` is generated
from them (``python -m kete_core.hookdoc``) and a test fails when the two disagree.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import TYPE_CHECKING

from kete_core.markers import hookspec

if TYPE_CHECKING:
    import click

    from kete_core.application import Application
    from kete_core.config import KeteConfig
    from kete_core.contracts import Message, Rejection, VariableGetter
    from kete_core.event import Event
    from kete_core.policy import ErrorAction, RetrySettings

# --------------------------------------------------------------------------- lifecycle


@hookspec(historic=True)
def kete_configure(config: KeteConfig) -> None:
    """See the validated configuration, once, before any component is built.

    Called once per run and per ``kete check``; historic, so a plugin registered later still
    receives it. Raise :class:`~kete_core.errors.ConfigError` to reject the configuration.

    :param config: the validated configuration tree (``config.settings`` holds ``[kete]``,
        ``config.routes`` and ``config.sources`` the raw tables).
    """


@hookspec
def kete_startup(app: Application) -> Awaitable[None] | None:
    """Acquire resources before the first event flows.

    Called once by ``kete run`` after every component was built and before sources start.
    May return an awaitable, which kete awaits.

    :param app: the assembled application: its routes, sources and settings.
    """


@hookspec
def kete_shutdown(app: Application) -> Awaitable[None] | None:
    """Release resources after the run.

    Called once by ``kete run`` after sources stopped and every route drained, also after a
    failure. May return an awaitable, which kete awaits.

    :param app: the application passed to :func:`kete_startup`.
    """


@hookspec
def kete_add_commands(cli: click.Group) -> None:
    """Add subcommands to the ``kete`` command line.

    Called once when the CLI starts. Add commands with ``@cli.command()`` or ``cli.add_command``;
    keep imports inside the command so that ``kete --help`` stays fast.

    :param cli: the root ``kete`` click group.
    """


# --------------------------------------------------------------------------- sources


@hookspec
def kete_after_receive(source: str, events: Sequence[Event]) -> None:
    """Observe a batch of events as a source submits it, before routing.

    Hot path: called once per submitted batch. Do not modify the events.

    :param source: the source's name (``[sources.<name>]``).
    :param events: the parsed events of the batch.
    """


@hookspec
def kete_event_rejected(rejection: Rejection) -> None:
    """Observe an input record that a source could not turn into an event.

    Called once per rejected record, after kete logged and counted it.

    :param rejection: the source, the position in its input, the reason and the raw record's start.
    """


# --------------------------------------------------------------------------- matchers


@hookspec
def kete_after_match(route: str, events: Sequence[Event]) -> None:
    """Observe which events of a batch a route selected.

    Hot path: called once per route and submitted batch in which the route selected at least one
    event, after realm and event matchers ran.

    :param route: the route's name.
    :param events: the events the route selected, in input order.
    """


# --------------------------------------------------------------------------- renderers


@hookspec
def kete_template_variables() -> Mapping[str, VariableGetter] | None:
    """Add template variables to the ``kete`` renderer.

    Called once per run, when the renderer is built. Each returned name ``x`` becomes usable in
    templates in the five casings, ``${xUpperCase}`` … ``${xCamelCase}``, like the built-in
    ``realm``, ``eventType``, ``kind``, ``resourceType``, ``operationType`` and ``result``. A name
    that is already defined is a configuration error.

    :returns: a mapping of variable name to a function giving the variable's value for an event
        (None when the event has no value: an address using it then fails that event for its route,
        a header using it is not sent).
    """


# --------------------------------------------------------------------------- serializers


@hookspec
def kete_serialize_failed(serializer: str, event: Event, error: Exception) -> None:
    """Observe an event that a serializer could not write.

    Called once per event and serializer that failed; the event then fails for every route using
    that serializer.

    :param serializer: the serializer's kind.
    :param event: the event.
    :param error: the exception the serializer raised.
    """


# --------------------------------------------------------------------------- sinks


@hookspec
def kete_before_emit(route: str, messages: Sequence[Message]) -> None:
    """Observe a batch just before it is handed to a route's sink.

    Hot path: called once per delivery attempt.

    :param route: the route's name.
    :param messages: the messages about to be sent.
    """


@hookspec
def kete_after_emit(route: str, messages: Sequence[Message]) -> None:
    """Observe messages that a route's sink acknowledged.

    Hot path: called once per delivery attempt that delivered at least one message.

    :param route: the route's name.
    :param messages: the messages the sink acknowledged.
    """


@hookspec(firstresult=True)
def kete_on_emit_error(
    route: str, messages: Sequence[Message], error: BaseException, attempt: int, retry: RetrySettings, elapsed: float
) -> ErrorAction | None:
    """Decide what happens to messages a route's sink failed to deliver.

    Called once per failed attempt and distinct error. The first non-None answer wins. kete's own
    answer is a ``trylast`` implementation of this hook (:mod:`kete_core.policy`), so it comes
    after every plugin's: retry while the route's ``retry.max-attempts`` and
    ``retry.max-elapsed-duration`` allow and the error is not a
    :class:`~kete_core.errors.PermanentError`, else give up.

    :param route: the route's name.
    :param messages: the messages that failed with *error*.
    :param error: the exception (a :class:`~kete_core.errors.PermanentError` when retrying is useless).
    :param attempt: the number of the attempt that failed, starting at 1.
    :param retry: the route's ``retry.*`` settings.
    :param elapsed: seconds since the first attempt to deliver these messages.
    :returns: ``ErrorAction.RETRY`` or ``ErrorAction.GIVE_UP``, or None to abstain.
    """
