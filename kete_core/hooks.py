"""The plugin manager and the typed facade through which core code calls hooks.

Core code never touches ``pm.hook`` directly: every call goes through :class:`Hooks`, so call
sites are type-checked and per-batch hooks cost nothing when no plugin implements them. Every
manager holds kete's own defaults first (:data:`DEFAULT_PLUGINS`), then the ``kete.hooks``
plugins.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import pluggy

from kete_core import hookspecs, policy
from kete_core.discovery import load_hook_modules
from kete_core.errors import PluginError

if TYPE_CHECKING:
    from types import ModuleType

    import click

    from kete_core.application import Application
    from kete_core.config import KeteConfig
    from kete_core.contracts import Message, Rejection, VariableGetter
    from kete_core.event import Event
    from kete_core.policy import ErrorAction, RetrySettings

DEFAULT_PLUGINS: tuple[tuple[str, ModuleType], ...] = (("kete-core.policy", policy),)
"""kete's own hook implementations, by plugin name: always registered, never disabled."""


def plugin_manager(*, load_entry_points: bool = True, disabled: Iterable[str] = ()) -> pluggy.PluginManager:
    """A fresh manager with kete's hook specs and, unless told not to, every ``kete.hooks`` plugin.

    :raises PluginError: when a hook plugin cannot be imported or implements an unknown hook.
    """
    pm = pluggy.PluginManager("kete")
    pm.add_hookspecs(hookspecs)
    for name, default in DEFAULT_PLUGINS:
        pm.register(default, name=name)
    if load_entry_points:
        for name, module, info in load_hook_modules(frozenset(disabled)):
            try:
                pm.register(module, name=name)
            except pluggy.PluginValidationError as exc:
                raise PluginError(f"hook plugin '{name}' is invalid", plugin=info, cause=exc) from exc
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        known = ", ".join(sorted(name for name in dir(hookspecs) if name.startswith("kete_")))
        raise PluginError("a hook plugin implements an unknown hook", cause=exc, hint=f"known hooks: {known}") from exc
    return pm


class Hooks:
    """Typed calls into the plugin manager."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        hook = pm.hook
        # Hot-path hooks are looked up once; None means nobody implements them.
        self._after_receive = hook.kete_after_receive if hook.kete_after_receive.get_hookimpls() else None
        self._after_match = hook.kete_after_match if hook.kete_after_match.get_hookimpls() else None
        self._before_emit = hook.kete_before_emit if hook.kete_before_emit.get_hookimpls() else None
        self._after_emit = hook.kete_after_emit if hook.kete_after_emit.get_hookimpls() else None

    def configure(self, config: KeteConfig) -> None:
        self.pm.hook.kete_configure.call_historic(kwargs={"config": config})

    async def startup(self, app: Application) -> None:
        for result in self.pm.hook.kete_startup(app=app):
            if inspect.isawaitable(result):
                await result

    async def shutdown(self, app: Application) -> None:
        for result in self.pm.hook.kete_shutdown(app=app):
            if inspect.isawaitable(result):
                await result

    def add_commands(self, cli: click.Group) -> None:
        self.pm.hook.kete_add_commands(cli=cli)

    def after_receive(self, source: str, events: Sequence[Event]) -> None:
        if self._after_receive is not None:
            self._after_receive(source=source, events=events)

    def event_rejected(self, rejection: Rejection) -> None:
        self.pm.hook.kete_event_rejected(rejection=rejection)

    @property
    def watches_match(self) -> bool:
        """True when a plugin implements ``kete_after_match``: only then is its argument built."""
        return self._after_match is not None

    def after_match(self, route: str, events: Sequence[Event]) -> None:
        if self._after_match is not None:
            self._after_match(route=route, events=events)

    def template_variables(self) -> dict[str, VariableGetter]:
        variables: dict[str, VariableGetter] = {}
        results: list[Mapping[str, VariableGetter] | None] = self.pm.hook.kete_template_variables()
        for result in results:
            for name, getter in (result or {}).items():
                if name in variables:
                    raise PluginError(f"template variable '{name}' is added by more than one plugin")
                variables[name] = getter
        return variables

    def serialize_failed(self, serializer: str, event: Event, error: Exception) -> None:
        self.pm.hook.kete_serialize_failed(serializer=serializer, event=event, error=error)

    def before_emit(self, route: str, messages: Sequence[Message]) -> None:
        if self._before_emit is not None:
            self._before_emit(route=route, messages=messages)

    def after_emit(self, route: str, messages: Sequence[Message]) -> None:
        if self._after_emit is not None:
            self._after_emit(route=route, messages=messages)

    def on_emit_error(
        self,
        route: str,
        messages: Sequence[Message],
        error: BaseException,
        attempt: int,
        retry: RetrySettings,
        elapsed: float,
    ) -> ErrorAction:
        # Never None: kete's own policy (DEFAULT_PLUGINS) answers when every plugin abstains.
        result: ErrorAction = self.pm.hook.kete_on_emit_error(
            route=route, messages=messages, error=error, attempt=attempt, retry=retry, elapsed=elapsed
        )
        return result
