"""The ``kete`` command line."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import time
from typing import NoReturn

import click
import orjson

from kete_core import deadletters
from kete_core.application import Application
from kete_core.assembly import build
from kete_core.config import KeteConfig, load_config
from kete_core.discovery import GROUPS, check, installed, load
from kete_core.display import TextFormatter, escape_controls, shown
from kete_core.errors import KeteError, PluginError
from kete_core.hooks import Hooks, plugin_manager
from kete_core.preflight import preflight
from kete_core.routing import MatcherGroup, compile_matcher
from kete_core.spool import Spool
from kete_core.status import RunStats

EXIT_FAILED = 1
EXIT_CONFIG = 2

log = logging.getLogger("kete")


def _fail(error: KeteError, status: int = EXIT_CONFIG) -> NoReturn:
    for line in str(error).splitlines():
        click.echo(f"kete: error: {line}" if not line.startswith(" ") else f"kete:   {line.strip()}", err=True)
    sys.exit(status)


def _warn(warning: KeteError) -> None:
    for line in str(warning).splitlines():
        click.echo(f"kete: warning: {line}" if not line.startswith(" ") else f"kete:   {line.strip()}", err=True)


def _setup_logging(level: str, style: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if style == "json":
        from kete_core.observability import JsonFormatter  # brings prometheus_client: only when asked for

        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    chosen = logging.getLevelNamesMapping()[level.upper()]
    # Client libraries (the Azure SDKs, pulsar, paho, ...) log each connection and link state change at
    # INFO, dozens of lines per connect; below debug only their warnings reach kete's log.
    libraries = chosen if chosen <= logging.DEBUG else max(chosen, logging.WARNING)
    logging.basicConfig(level=libraries, handlers=[handler], force=True)
    logging.getLogger("kete").setLevel(chosen)


def _build(config_path: str) -> Application:
    try:
        app = build(config_path)
    except KeteError as exc:
        _fail(exc)
    _setup_logging(app.config.settings.log_level, app.config.settings.log_format)
    return app


def _summary(app: Application, stats: RunStats) -> str:
    parts = [f"{sum(stats.received.values())} events received, {sum(stats.rejected.values())} rejected"]
    parts += [
        f"route {name}: {route.matched} matched, "
        + (f"{route.resumed} resumed from an earlier run, " if route.resumed else "")
        + f"{route.delivered} delivered, {route.failed} failed"
        for name, route in stats.routes.items()
    ]
    parts += [
        f"source {source.name} resumed {source.resumed_from}, where the last run stopped"
        f" (`kete run --from-start {app.config.origin}` reads from the start)"
        for source in app.sources
        if source.resumed_from
    ]
    return "; ".join(parts)


@click.group()
@click.version_option(package_name="kete-core", prog_name="kete")
def cli() -> None:
    """Route Keycloak events to Kafka, HTTP, files and more."""


async def _run(app: Application, from_start: bool) -> RunStats:
    from kete_core.pipeline import Pipeline  # the runtime and its metrics: not for `kete --help`

    return await Pipeline(app, from_start=from_start).run()


def tune_garbage_collection() -> None:
    """Make the cyclic garbage collector rare. Events and messages form no reference cycles, so
    frequent collections only rescan the thousands of events in flight: measured, they took most
    of the per-event time. Reference counting still frees everything as before."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(200_000, 50, 100)


@cli.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option(
    "--from-start",
    is_flag=True,
    help="Forget where the sources stopped last time: each reads as on its first run (a file from its start).",
)
def run(config: str, from_start: bool) -> None:
    """Run the routes of CONFIG (.toml or .properties) until the sources end or a signal stops them.

    Sources continue where the last run of CONFIG stopped (kept in its data dir); --from-start
    reads again. Exits 0 once everything read was delivered, 1 when some events could not be
    delivered or a source failed, 2 when the configuration is wrong.
    """
    app = _build(config)
    for warning in preflight(app):
        log.warning("%s", warning)
    if not app.config.settings.enabled:
        log.info("kete is disabled (kete.enabled = false): nothing to do")
        return
    tune_garbage_collection()
    try:
        stats = asyncio.run(_run(app, from_start))
    except KeteError as exc:
        _fail(exc, EXIT_FAILED)
    log.info("done: %s", _summary(app, stats))
    if stats.left_in_spool:
        log.warning("%d event(s) wait in the spool; they are delivered at the next start", stats.left_in_spool)
    if stats.failed or stats.source_errors or stats.left_in_spool:
        sys.exit(EXIT_FAILED)


@cli.command(name="check")
@click.argument("config", type=click.Path(dir_okay=False))
def check_command(config: str) -> None:
    """Check CONFIG without running it: every error at once, exit status 2 if there are any."""
    app = _build(config)
    for warning in preflight(app):
        _warn(warning)
    disabled = len(app.config.routes) - len(app.routes)
    click.echo(
        f"{config}: OK: {len(app.routes)} route(s)"
        + (f" ({disabled} disabled)" if disabled else "")
        + f", {len(app.sources)} source(s)"
    )


@cli.command()
@click.option("--check", "import_them", is_flag=True, help="Also import each plugin and report failures.")
def plugins(import_them: bool) -> None:
    """List installed component types and hook plugins (without importing them)."""
    rows: list[tuple[str, ...]] = [
        ("KIND", "NAME", "DISTRIBUTION", "VERSION", "ENTRY POINT", *(("STATUS",) if import_them else ()))
    ]
    broken = 0
    for kind in GROUPS:
        for item in installed(kind):
            info = item.info
            row: tuple[str, ...] = (kind, item.name, info.distribution or "?", info.version or "?", info.value)
            if import_them:
                error = check(item) if kind != "hooks" else None
                broken += error is not None
                row = (*row, "ok" if error is None else f"BROKEN: {type(error).__name__}: {error}")
            rows.append(row)
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])
    if broken:
        sys.exit(EXIT_FAILED)


@cli.command()
def schema() -> None:
    """Print the JSON schema of a configuration, with every installed component's settings."""
    from kete_core.schema import full_schema

    document, problems = full_schema()
    for problem in problems:
        click.echo(f"kete: warning: {problem}", err=True)
    click.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())


@cli.command()
@click.argument("matcher")
@click.argument("values", nargs=-1, required=True)
def match(matcher: str, values: tuple[str, ...]) -> None:
    """Try MATCHER ('glob:LOGIN*', 'list:not:LOGOUT', ...) on VALUES.

    Exits 0 when at least one value matches, 1 when none does, 2 when the matcher is invalid.
    """
    try:
        group = MatcherGroup([compile_matcher(matcher, lambda kind: load("matcher", kind)[0], path="matcher")])
    except KeteError as exc:
        _fail(exc)
    width = max(len(value) for value in values)
    matched = 0
    for value in values:
        accepted = group.accepts(value)
        matched += accepted
        click.echo(f"{value.ljust(width)}  {'match' if accepted else 'no match'}")
    if not matched:
        sys.exit(EXIT_FAILED)


def _config_only(config_path: str) -> KeteConfig:
    """The configuration without building its components (for commands on the data dir)."""
    try:
        return load_config(config_path)
    except KeteError as exc:
        _fail(exc)


@cli.group()
def dlq() -> None:
    """Inspect and replay dead letters: events routes gave up on."""


@dlq.command(name="list")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--route", help="Only this route's dead letters.")
def dlq_list(config: str, route: str | None) -> None:
    """List the dead letters of CONFIG's routes, oldest first."""
    directory = _config_only(config).data_dir / "dead-letters"
    count = 0
    for letter in deadletters.read(directory, route):
        count += 1
        event = letter.to_event()
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(letter.last_attempt))
        # Event data and receivers' answers are shown inert: no control character reaches the terminal.
        click.echo(
            f"{when}  {escape_controls(letter.route)}  {escape_controls(event.event_type)}  "
            f"{escape_controls(event.realm)}  id={escape_controls(str(event.id))}  "
            f"attempts={letter.attempts}  {shown(letter.error)}"
        )
    click.echo(f"{count} dead letter(s) in {directory}", err=True)


@dlq.command(name="replay")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--route", help="Only this route's dead letters.")
def dlq_replay(config: str, route: str | None) -> None:
    """Hand dead letters back to their routes; the next `kete run` delivers them.

    Needs `kete run` of CONFIG to be stopped (they share the spool).
    """
    settings = _config_only(config)
    directory = settings.data_dir / "dead-letters"
    routes = list(settings.routes)
    letters = [letter for letter in deadletters.read(directory, route) if letter.route in routes]
    unknown = {letter.route for letter in deadletters.read(directory, route)} - set(routes)
    for name in sorted(unknown):
        click.echo(f"kete: warning: route '{name}' is no longer configured; its dead letters stay", err=True)
    if not letters:
        click.echo("no dead letters to replay")
        return
    try:
        spool = Spool(settings.data_dir / "spool.sqlite", routes)
    except KeteError as exc:
        _fail(exc, EXIT_FAILED)
    try:
        for name in sorted({letter.route for letter in letters}):
            bit = 1 << spool.bits[name]
            events = [letter.to_event() for letter in letters if letter.route == name]
            spool.append(events, [bit] * len(events))
            deadletters.archive(directory, name)
    finally:
        spool.close()
    click.echo(f"{len(letters)} dead letter(s) handed back to their routes; `kete run {config}` delivers them")


@cli.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--limit", default=100, show_default=True, help="How many of the most recent to show.")
def rejected(config: str, limit: int) -> None:
    """List input records the sources of CONFIG rejected, with the reason."""
    settings = _config_only(config)
    path = settings.data_dir / "spool.sqlite"
    if not path.exists():
        click.echo("nothing rejected (no spool yet)")
        return
    spool = Spool.reader(path)
    try:
        for record in spool.rejected(limit):
            when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record["at"]))
            raw = (record["raw"] or b"")[:120].decode("utf-8", "replace")
            fields = (record["source"], record["where"], record["reason"], raw)
            click.echo(f"{when}  " + "  ".join(escape_controls(str(field)) for field in fields))
    finally:
        spool.close()


def main() -> None:
    """Entry point of the ``kete`` console script."""
    try:
        Hooks(plugin_manager()).add_commands(cli)
    except PluginError as exc:
        for line in str(exc).splitlines():
            click.echo(f"kete: warning: {line}", err=True)
    cli()


if __name__ == "__main__":
    main()
