"""Finding component types through entry points.

Listing reads installed distributions' metadata and imports nothing; loading (through stevedore)
imports exactly the one class a configuration names. Both go through this module, so every
missing, ambiguous or broken plugin is reported the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import EntryPoint, PackageNotFoundError, entry_points, version
from typing import Any

from stevedore import DriverManager, NamedExtensionManager
from stevedore.exception import MultipleMatches, NoMatches

from kete_core.errors import PluginError, PluginInfo, did_you_mean

GROUPS: dict[str, str] = {
    "source": "kete.sources",
    "matcher": "kete.matchers",
    "renderer": "kete.renderers",
    "serializer": "kete.serializers",
    "sink": "kete.sinks",
    "hooks": "kete.hooks",
    "certificate-loader": "kete.certificate_loaders",
}
"""Component kind → entry-point group."""

_KETE_SERIALIZERS = (
    "yaml", "xml", "csv", "toml", "properties", "cbor", "smile", "avro", "protobuf", "url-encoded-form",
    "multipart-form", "template",
)  # fmt: skip

# The original KETE's destination (29) and serializer (13) kinds, its ``@Component`` names, and the
# kete distribution that provides each (None: none is decided). One line a kind, so that plugins
# landing side by side do not touch the same lines. ``redis-streams`` is the name older KETE
# versions gave ``redis-stream``.
KETE_KINDS: dict[tuple[str, str], str | None] = {
    ("sink", "kafka"): "kete-kafka",
    ("sink", "http"): "kete-http",
    ("sink", "amqp-0.9.1"): "kete-amqp",
    ("sink", "amqp-1"): "kete-amqp",
    ("sink", "mqtt-3"): "kete-mqtt",
    ("sink", "mqtt-5"): "kete-mqtt",
    ("sink", "nats"): "kete-nats",
    ("sink", "nats-jetstream"): "kete-nats",
    ("sink", "redis-pubsub"): "kete-redis",
    ("sink", "redis-stream"): "kete-redis",
    ("sink", "redis-streams"): "kete-redis",
    ("sink", "stomp"): "kete-stomp",
    ("sink", "pulsar"): "kete-pulsar",
    ("sink", "zeromq"): "kete-zeromq",
    ("sink", "websocket"): "kete-websocket",
    ("sink", "signalr"): "kete-signalr",
    ("sink", "socketio"): "kete-socketio",
    ("sink", "grpc"): "kete-grpc",
    ("sink", "soap"): "kete-soap",
    ("sink", "aws-sqs"): "kete-aws",
    ("sink", "aws-sns"): "kete-aws",
    ("sink", "aws-kinesis"): "kete-aws",
    ("sink", "aws-eventbridge"): "kete-aws",
    ("sink", "azure-eventhubs"): "kete-azure",
    ("sink", "azure-servicebus"): "kete-azure",
    ("sink", "azure-eventgrid"): "kete-azure",
    ("sink", "azure-storage-queue"): "kete-azure",
    ("sink", "azure-webpubsub"): "kete-azure",
    ("sink", "gcp-pubsub"): "kete-gcp",
    ("sink", "gcp-cloud-tasks"): "kete-gcp",
    ("serializer", "json"): "kete-core",
    **{("serializer", name): "kete-serializers" for name in _KETE_SERIALIZERS},
}

# Distributions named above that are planned but not published: the hint names them without a
# "pip install", which would fetch whatever else holds the name on the package index. A name leaves
# this set in the commit that adds its plugin under plugins/ (one line a name, for the same reason).
PLANNED: frozenset[str] = frozenset()

# Kinds of KETE_KINDS whose distribution has shipped without them yet (one line a kind): the hint says
# so rather than suggesting an upgrade that would not help. A kind leaves this set when it lands.
NOT_YET: frozenset[tuple[str, str]] = frozenset({})

# Which distribution provides a component kind kete knows of, for "pip install ..." hints.
KNOWN_PROVIDERS: dict[tuple[str, str], str | None] = {
    **KETE_KINDS,
    **{("matcher", name): "kete-matchers" for name in ("list", "glob", "regex", "sql")},
    ("sink", "file"): "kete-file",
    ("source", "kafka"): "kete-kafka",
    ("source", "http"): "kete-http",
    ("source", "keycloak-admin-api"): "kete-keycloak",
    ("source", "keycloak-log"): "kete-keycloak",
}

REGISTERED: dict[tuple[str, str], tuple[type[Any], PluginInfo]] = {}
"""Component types registered without an entry point, by :func:`kete_core.testing.registered` for
the length of a test (the in-memory source and sink); never listed by ``kete plugins``."""

_NOUNS = {"sink": "destination kind", "source": "source kind", "matcher": "matcher kind",
          "serializer": "serializer kind", "renderer": "renderer kind", "hooks": "hook plugin",
          "certificate-loader": "certificate loader kind"}  # fmt: skip


@dataclass(frozen=True)
class Installed:
    """One installed component type, as its entry point declares it (nothing imported)."""

    kind: str
    info: PluginInfo

    @property
    def name(self) -> str:
        """The name users write in ``kind = ...``."""
        return self.info.name


def _info(group: str, entry_point: EntryPoint) -> PluginInfo:
    dist = entry_point.dist
    return PluginInfo(
        group=group,
        name=entry_point.name,
        value=entry_point.value,
        distribution=dist.metadata["Name"] if dist is not None else None,
        version=dist.version if dist is not None else None,
    )


def installed(kind: str) -> list[Installed]:
    """Every installed component type of *kind* (``"sink"``, ``"matcher"``, …), sorted by name."""
    group = GROUPS[kind]
    # A distribution seen twice on sys.path (installed and on PYTHONPATH) counts once.
    found = {(info.distribution, info.name): info for ep in entry_points(group=group) if (info := _info(group, ep))}
    return sorted((Installed(kind, info) for info in found.values()), key=lambda item: item.name)


def noun(kind: str) -> str:
    """How errors name a component kind: ``"destination kind"`` for sinks."""
    return _NOUNS[kind]


def _ignore_missing(_names: Any) -> None:
    """Missing names are reported by :func:`load` itself, with a did-you-mean."""


def load(kind: str, name: str, *, path: str | None = None) -> tuple[type[Any], PluginInfo]:
    """Import and return the class registered as *name* in *kind*'s group, with where it came from.

    :raises PluginError: naming *path*, with a did-you-mean and a ``pip install`` hint when the
        name is unknown, every provider when it is ambiguous, and the cause when import fails.
    """
    group = GROUPS[kind]
    registered = REGISTERED.get((kind, name))
    if registered is not None:
        return registered
    candidates = [item for item in installed(kind) if item.name == name]
    if not candidates:
        raise _unknown(kind, name, path)
    if len(candidates) > 1:
        providers = ", ".join(str(item.info) for item in candidates)
        raise PluginError(
            f"{noun(kind)} '{name}' is provided more than once: {providers}",
            path=path,
            hint="uninstall all but one of those distributions",
        )
    info = candidates[0].info

    def failed(_manager: Any, _entry_point: Any, exc: BaseException) -> None:
        raise PluginError(
            f"could not load {noun(kind)} '{name}'",
            path=path,
            plugin=info,
            cause=exc,
            hint=f"reinstall the plugin with its dependencies: pip install --force-reinstall {info.distribution}",
        ) from exc

    try:
        manager = DriverManager(
            group, name, on_load_failure_callback=failed, on_missing_entrypoints_callback=_ignore_missing
        )
    except (NoMatches, MultipleMatches) as exc:  # metadata changed between listing and loading
        raise PluginError(f"could not load {noun(kind)} '{name}'", path=path, plugin=info, cause=exc) from exc
    driver = manager.driver
    if not isinstance(driver, type):
        raise PluginError(
            f"{noun(kind)} '{name}' is not a class: {driver!r}",
            path=path,
            plugin=info,
            hint=f"the entry point must name the {noun(kind)}'s class, as 'module:Class'",
        )
    return driver, info


def _unknown(kind: str, name: str, path: str | None) -> PluginError:
    names = [item.name for item in installed(kind)]
    known = [known_name for (known_kind, known_name) in KNOWN_PROVIDERS if known_kind == kind]
    hints = []
    if (kind, name) in KNOWN_PROVIDERS:
        hints.append(_provider_hint(kind, name))
    else:
        suggestion = did_you_mean(name, names + known)
        if suggestion:
            hints.append(suggestion)
    hints.append(f"installed: {', '.join(names) or 'none'} (`kete plugins` lists them)")
    return PluginError(f"unknown {noun(kind)} '{name}'", path=path, hint="; ".join(hints))


def _provider_hint(kind: str, name: str) -> str:
    """Where kind *name* comes from: a distribution to install, or none yet."""
    provider = KNOWN_PROVIDERS[(kind, name)]
    origin = f"'{name}' is one of the original KETE's {noun(kind)}s" if (kind, name) in KETE_KINDS else ""
    if provider is None or provider in PLANNED:
        planned = f" ({provider} is planned)" if provider else ""
        return (
            f"{origin}, but no kete distribution provides it yet{planned}; "
            "docs/writing-plugins.md shows how to write one"
        )
    lead = f"{origin}; it" if origin else f"'{name}'"
    try:
        installed_version = version(provider)
    except PackageNotFoundError:
        return f"{lead} is provided by {provider}: pip install {provider}"
    if (kind, name) in NOT_YET:
        shipped = f"{provider} {installed_version} is installed"
        return f"{lead} is planned for {provider}, which does not provide it yet ({shipped})"
    outdated = f"{provider} {installed_version} does not have it"
    return f"{lead} is provided by {provider}, but {outdated}: pip install --upgrade {provider}"


def user_agent(distribution: str) -> str:
    """What a client of *distribution* tells servers it is: ``kete-http/0.1.0``, the bare name when
    the distribution is not installed (running from a source tree)."""
    try:
        return f"{distribution}/{version(distribution)}"
    except PackageNotFoundError:
        return distribution


def load_hook_modules(disabled: frozenset[str]) -> list[tuple[str, object, PluginInfo]]:
    """Import every ``kete.hooks`` plugin not in *disabled*; raise :class:`PluginError` on failure."""
    infos = {item.name: item.info for item in installed("hooks")}

    def failed(_manager: Any, entry_point: Any, exc: BaseException) -> None:
        info = infos.get(entry_point.name)
        raise PluginError(f"could not load hook plugin '{entry_point.name}'", plugin=info, cause=exc) from exc

    wanted = sorted(name for name in infos if name not in disabled)
    manager: NamedExtensionManager[Any] = NamedExtensionManager(
        GROUPS["hooks"], wanted, on_load_failure_callback=failed, on_missing_entrypoints_callback=_ignore_missing
    )
    return [(extension.name, extension.plugin, infos[extension.name]) for extension in manager]


def check(item: Installed) -> BaseException | None:
    """Import one installed component type; return the exception if that fails (for ``kete plugins``)."""
    try:
        load(item.kind, item.name)
    except PluginError as exc:
        return exc.cause or exc
    return None
