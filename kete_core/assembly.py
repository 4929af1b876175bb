"""Building the application a configuration describes: load the named plugins, validate each
component's settings, compile matchers and templates, and report every error at once."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from kete_core.application import Application
from kete_core.config import KeteConfig, KeteSettings, read_config
from kete_core.contracts import ComponentConfig, Matcher, Renderer, Serializer, SinkContext, Source
from kete_core.discovery import load
from kete_core.errors import ConfigError, ConfigErrors, KeteError, did_you_mean
from kete_core.fields import Lowercase
from kete_core.hooks import Hooks, plugin_manager
from kete_core.policy import DeadLetterSettings, RetrySettings
from kete_core.routing import MatcherGroup, Route, compile_matcher
from kete_core.validation import validate_settings

Built = TypeVar("Built")


Mode = Annotated[Literal["any", "all"], Lowercase]


class RouteSettings(ComponentConfig):
    """A route's own settings, beside its matchers, serializer and destination."""

    enabled: bool = True
    realm_match_mode: Mode = "any"
    event_match_mode: Mode = "any"


class _Collector:
    """Gathers errors so that one pass reports all of them."""

    def __init__(self) -> None:
        self.errors: list[KeteError] = []

    def attempt(self, build: Callable[[], Built]) -> Built | None:
        try:
            return build()
        except ConfigErrors as exc:
            self.errors.extend(exc.errors)
        except KeteError as exc:
            self.errors.append(exc)
        return None


def _table(raw: dict[str, Any], key: str) -> dict[str, Any]:
    """``raw[key]`` when it is a table; else empty (the envelope reports what it is instead)."""
    value = raw.get(key, {})
    return value if isinstance(value, dict) else {}


def _split_kind(raw: dict[str, Any], default: str | None = None) -> tuple[str, dict[str, Any]]:
    settings = dict(raw)
    kind = str(settings.pop("kind", default) or "").strip()
    return kind, settings


def _dead_letter_route(table: dict[str, Any]) -> str | None:
    """The ``dead-letter.route`` of a route's raw *table*, if it names one."""
    dead_letter = table.get("dead-letter")
    route = dead_letter.get("route") if isinstance(dead_letter, dict) else None
    return str(route) if route is not None else None


class _Builder:
    def __init__(self, config: KeteConfig, hooks: Hooks) -> None:
        self.config = config
        self.hooks = hooks
        self.collector = _Collector()
        self.matcher_classes: dict[str, type[Matcher]] = {}
        self.serializers: dict[str, Serializer] = {}

    def renderer(self, name: str | None = None, raw: dict[str, Any] | None = None) -> Renderer:
        settings = self.config.settings
        cls, info = load("renderer", name or settings.renderer, path="kete.renderer")
        raw = settings.renderer_settings if raw is None else raw
        config = validate_settings(cls.Config, raw, "kete.renderer-settings", info)
        try:
            renderer: Renderer = cls(config, self.hooks.template_variables())
        except ValueError as exc:
            raise ConfigError(str(exc), path="kete.renderer", plugin=info) from exc
        return renderer

    def default_renderer(self) -> Renderer:
        return self.renderer(KeteSettings.model_fields["renderer"].default, {})

    def matcher_class(self, kind: str, path: str) -> type[Matcher]:
        if kind not in self.matcher_classes:
            self.matcher_classes[kind] = load("matcher", kind, path=path)[0]
        return self.matcher_classes[kind]

    def matcher(self, text: str, path: str) -> tuple[Matcher, bool]:
        return compile_matcher(text, lambda kind: self.matcher_class(kind, path), path=path)

    def group(self, raw: dict[str, Any], key: str, mode: str, path: str) -> MatcherGroup | None:
        matchers = []
        for matcher_id, text in _table(raw, key).items():
            where = f"{path}.{key}.{matcher_id}"
            if not isinstance(text, str):
                continue  # the envelope reports it
            built = self.collector.attempt(partial(self.matcher, text, where))
            if built is not None:
                matchers.append(built)
        return MatcherGroup(matchers, require_all=mode == "all")

    def serializer(self, raw: dict[str, Any], path: str) -> tuple[str, Serializer]:
        kind, settings = _split_kind(raw, "json")
        key = json.dumps([kind, settings], sort_keys=True, default=str)
        if key not in self.serializers:
            cls, info = load("serializer", kind, path=f"{path}.kind")
            self.serializers[key] = cls(validate_settings(cls.Config, settings, path, info))
        return kind, self.serializers[key]

    def route(self, name: str, raw: dict[str, Any], renderer: Renderer) -> Route | None:
        """The route *name*; every part is checked even when an earlier part has errors."""
        path = f"routes.{name}"
        options: dict[str, Any] = {
            key: raw[key] for key in ("enabled", "realm-match-mode", "event-match-mode") if key in raw
        }
        settings = self.collector.attempt(lambda: validate_settings(RouteSettings, options, path))
        if settings is not None and not settings.enabled:
            return None
        settings = settings or RouteSettings()
        realms = self.group(raw, "realm-matchers", settings.realm_match_mode, path)
        events = self.group(raw, "event-matchers", settings.event_match_mode, path)
        retry = self.collector.attempt(lambda: validate_settings(RetrySettings, _table(raw, "retry"), f"{path}.retry"))
        serializer = self.collector.attempt(lambda: self.serializer(_table(raw, "serializer"), f"{path}.serializer"))
        destination = raw.get("destination")
        sink = None
        if isinstance(destination, dict):  # else the envelope reports it
            # With a broken serializer the destination is still checked, with the default one.
            checked_with = serializer if serializer is not None else self.serializer({}, f"{path}.serializer")
            sink = self.collector.attempt(
                lambda: self.sink(destination, f"{path}.destination", name, renderer, *checked_with)
            )
        dead_letter = self.collector.attempt(
            lambda: self.dead_letter(_table(raw, "dead-letter"), f"{path}.dead-letter", name)
        )
        if (
            realms is None
            or events is None
            or retry is None
            or serializer is None
            or sink is None
            or dead_letter is None
            or not isinstance(destination, dict)
        ):
            return None
        kind = str(destination.get("kind", ""))
        return Route(name, realms, events, serializer[0], serializer[1], sink, retry, dead_letter, kind)

    def dead_letter(self, raw: dict[str, Any], path: str, route: str) -> DeadLetterSettings:
        settings = validate_settings(DeadLetterSettings, raw, path)
        target = settings.route
        if target is not None:
            enabled = {
                name for name, table in self.config.routes.items() if str(table.get("enabled", True)).lower() != "false"
            }
            if target == route or target not in enabled:
                others = sorted(enabled - {route})
                raise ConfigError(
                    f"dead-letter route '{target}' is {'this route' if target == route else 'not an enabled route'}",
                    path=f"{path}.route",
                    hint=did_you_mean(target, others) or f"enabled routes: {', '.join(others) or 'none'}",
                )
            chain = [route, target]
            following = _dead_letter_route(self.config.routes.get(target, {}))
            while following is not None and following not in chain:
                chain.append(following)
                following = _dead_letter_route(self.config.routes.get(following, {}))
            if following == route:
                raise ConfigError(
                    f"dead-letter routes form a cycle: {' -> '.join([*chain, route])}",
                    path=f"{path}.route",
                    hint="end the chain at a route without dead-letter.route (its dead letters go to files)",
                )
        return settings

    def sink(
        self,
        raw: dict[str, Any],
        path: str,
        route: str,
        renderer: Renderer,
        serializer_kind: str,
        serializer: Serializer,
    ) -> Any:
        kind, settings = _split_kind(raw)
        cls, info = load("sink", kind, path=f"{path}.kind")
        config = validate_settings(cls.Config, settings, path, info)
        context = SinkContext(route, path, renderer, serializer, serializer_kind=serializer_kind)
        return cls(config, context)

    def source(self, name: str, raw: dict[str, Any]) -> Source:
        path = f"sources.{name}"
        kind, settings = _split_kind(raw)
        cls, info = load("source", kind, path=f"{path}.kind")
        config = validate_settings(cls.Config, settings, path, info)
        source: Source = cls(name, config)
        return source


def assemble(config: KeteConfig, hooks: Hooks) -> Application:
    """Build the :class:`Application` for *config*.

    :raises ConfigErrors: with every error found: unknown or broken plugins, invalid settings,
        invalid matcher patterns, unknown template variables.
    """
    builder = _Builder(config, hooks)
    collector = builder.collector
    collector.attempt(lambda: hooks.configure(config))
    renderer = collector.attempt(builder.renderer)
    # With a broken renderer the routes are still checked, with the built-in one.
    checked_with = renderer or collector.attempt(builder.default_renderer)
    routes: list[Route] = []
    if checked_with is not None:
        for name, raw in config.routes.items():
            route = builder.route(name, raw, checked_with)
            if route is not None:
                routes.append(route)
    sources = [
        source
        for name, raw in config.sources.items()
        if (source := collector.attempt(partial(builder.source, name, raw))) is not None
    ]
    if collector.errors:
        raise ConfigErrors(collector.errors)
    assert renderer is not None
    return Application(config=config, plugins=hooks.pm, renderer=renderer, routes=routes, sources=sources)


def build(path: str | Path, environ: Mapping[str, str] | None = None, *, plugins: Iterable[object] = ()) -> Application:
    """Read, check and assemble the configuration at *path*, as ``kete run`` and ``kete check`` do.

    :param plugins: hook implementations registered besides the installed ``kete.hooks`` plugins
        (tests register a :class:`~kete_core.testing.HookRecorder` this way).
    :raises ConfigErrors: with every error of the file, the environment and the components,
        ordered by config path.
    """
    config, errors = read_config(path, environ)
    # A place the file's own checks reported is not reported again by its component.
    reported = {error.path for error in errors}
    try:
        pm = plugin_manager(disabled=config.settings.disable_plugins)
        for plugin in plugins:
            pm.register(plugin)
        hooks = Hooks(pm)
        app = assemble(config, hooks)
    except ConfigErrors as exc:
        errors.extend(error for error in exc.errors if error.path not in reported)
    except KeteError as exc:
        errors.append(exc)
    if errors:
        raise ConfigErrors(sorted(errors, key=lambda error: error.path or ""))
    return app
