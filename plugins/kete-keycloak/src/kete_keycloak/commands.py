"""``kete keycloak …``: commands that prepare Keycloak for kete's Keycloak sources."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import click


@click.group()
def keycloak() -> None:
    """Prepare Keycloak for the keycloak-admin-api and keycloak-log sources."""


@dataclass
class Change:
    """One setting that differs between what Keycloak has and what was asked."""

    setting: str
    before: str
    after: str


def _types(values: Sequence[str]) -> list[str]:
    return [item.strip().upper() for value in values for item in value.split(",") if item.strip()]


def human_seconds(seconds: Any) -> str:
    """``604800`` → ``604800 s (7d)``; unset or 0 → ``never (kept forever)``."""
    try:
        value = int(seconds)
    except (TypeError, ValueError):
        return "never (kept forever)"
    if value <= 0:
        return "never (kept forever)"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if value % size == 0:
            return f"{value} s ({value // size}{unit})"
    return f"{value} s"


def _seconds(text: str | None, option: str) -> int | None:
    if text is None:
        return None
    from kete_core import parse_duration

    try:
        value = round(parse_duration(text))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from exc
    if value <= 0:
        raise click.BadParameter("must be longer than 0 s", param_hint=option)
    return value


@keycloak.command("enable-events")
@click.option("--server", required=True, help="Keycloak's base URL, e.g. https://sso.example.")
@click.option("--realm", required=True, help="The realm whose events Keycloak should store.")
@click.option(
    "--auth-realm", default="master", show_default=True, help="The realm of the account below (its token endpoint)."
)
@click.option("--client-id", help="A client with a service account (with --client-secret); admin-cli by default.")
@click.option("--client-secret", envvar="KETE_KEYCLOAK_CLIENT_SECRET", help="[env KETE_KEYCLOAK_CLIENT_SECRET]")
@click.option("--username", help="An admin's username (password grant).")
@click.option("--password", envvar="KETE_KEYCLOAK_PASSWORD", help="[env KETE_KEYCLOAK_PASSWORD]")
@click.option("--user-events/--no-user-events", default=True, show_default=True, help="Store user events.")
@click.option("--admin-events/--no-admin-events", default=True, show_default=True, help="Store admin events.")
@click.option(
    "--event-types", multiple=True, help="Store exactly these user event types (comma-separated or repeated)."
)
@click.option("--add-event-types", multiple=True, help="Store these user event types too, besides the current ones.")
@click.option("--expiration", help="Delete stored user events after this long (7d, 12h, P30D).")
@click.option("--admin-expiration", help="Delete stored admin events after this long (realm attribute).")
@click.option(
    "--include-representation/--no-include-representation",
    default=None,
    help="Store the request body with admin events (unchanged unless given).",
)
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("--ca-file", help="PEM file of the CA of Keycloak's certificate.")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds per request.")
def enable_events(
    server: str,
    realm: str,
    auth_realm: str,
    client_id: str | None,
    client_secret: str | None,
    username: str | None,
    password: str | None,
    user_events: bool,
    admin_events: bool,
    event_types: tuple[str, ...],
    add_event_types: tuple[str, ...],
    expiration: str | None,
    admin_expiration: str | None,
    include_representation: bool | None,
    dry_run: bool,
    ca_file: str | None,
    timeout: float,
) -> None:
    """Turn on the storage of user and admin events of a realm, for the keycloak-admin-api source.

    Reads the realm's events configuration, changes what was asked, keeps the rest (event
    listeners included) and prints every change. Needs manage-events on the realm; with
    --admin-expiration also view-realm and manage-realm. Exits 1 when Keycloak refuses.
    """
    if (username is None) == (client_secret is None):
        raise click.UsageError("authenticate with either --client-id/--client-secret or --username/--password")
    if username is not None and password is None:
        raise click.UsageError("--username needs --password (or KETE_KEYCLOAK_PASSWORD)")
    if client_secret is not None and not client_id:
        raise click.UsageError("--client-secret needs --client-id")
    if event_types and add_event_types:
        raise click.UsageError("--event-types and --add-event-types do not go together")
    wanted = _Wanted(
        user_events=user_events,
        admin_events=admin_events,
        event_types=_types(event_types) or None,
        add_event_types=_types(add_event_types),
        expiration=_seconds(expiration, "--expiration"),
        admin_expiration=_seconds(admin_expiration, "--admin-expiration"),
        include_representation=include_representation,
    )
    from kete_keycloak.client import KeycloakClient, KeycloakError, make_ssl_context, token_url_for

    client = KeycloakClient(
        server,
        token_url_for(server, auth_realm),
        client_id or "admin-cli",
        client_secret,
        username=username,
        password=password,
        timeout=timeout,
        ssl_context=make_ssl_context(True, ca_file),
    )
    try:
        changes, listeners = asyncio.run(_apply(client, realm, wanted, dry_run))
    except KeycloakError as exc:
        click.echo(f"kete: error: {exc.message}", err=True)
        if exc.status == 403:
            needs = "manage-events" + (" and manage-realm" if wanted.admin_expiration is not None else "")
            click.echo(f"kete:   hint: the account needs the realm-management roles {needs} of '{realm}'", err=True)
        sys.exit(1)
    click.echo(f"realm '{realm}' at {server}:")
    if changes:
        width = max(len(change.setting) for change in changes)
        for change in changes:
            click.echo(f"  {change.setting.ljust(width)}  {change.before} -> {change.after}")
    else:
        click.echo("  nothing to change: events are already stored as asked")
    click.echo(f"  event listeners kept: {', '.join(listeners) or '(none)'}")
    if changes:
        click.echo("dry run: nothing was changed" if dry_run else "saved")


@dataclass
class _Wanted:
    user_events: bool
    admin_events: bool
    event_types: list[str] | None
    add_event_types: list[str]
    expiration: int | None
    admin_expiration: int | None
    include_representation: bool | None


def _onoff(value: Any) -> str:
    return "on" if value else "off"


async def _apply(client: Any, realm: str, wanted: _Wanted, dry_run: bool) -> tuple[list[Change], list[str]]:
    try:
        return await _changes(client, realm, wanted, dry_run)
    finally:
        await client.close()


async def _changes(client: Any, realm: str, wanted: _Wanted, dry_run: bool) -> tuple[list[Change], list[str]]:
    """The changes asked for (made unless *dry_run*) and the event listeners, which stay as they are."""
    from kete_keycloak.client import realm_path

    changes: list[Change] = []
    config_path = realm_path(realm, "/events/config")
    current: dict[str, Any] = await client.get(config_path)

    # The admin-event expiration is a realm attribute: change it first, so that a refusal (it needs
    # manage-realm) leaves everything as it was.
    if wanted.admin_expiration is not None:
        representation = await client.get(realm_path(realm))
        attributes = dict(representation.get("attributes") or {})
        before = attributes.get("adminEventsExpiration")
        if str(before) != str(wanted.admin_expiration):
            changes.append(
                Change("adminEventsExpiration", human_seconds(before), human_seconds(wanted.admin_expiration))
            )
            attributes["adminEventsExpiration"] = str(wanted.admin_expiration)
            if not dry_run:
                await client.request("PUT", realm_path(realm), json={"attributes": attributes})

    body: dict[str, Any] = {
        "eventsEnabled": bool(current.get("eventsEnabled")),
        "eventsExpiration": current.get("eventsExpiration"),
        "eventsListeners": list(current.get("eventsListeners") or []),
        "adminEventsEnabled": bool(current.get("adminEventsEnabled")),
        "adminEventsDetailsEnabled": bool(current.get("adminEventsDetailsEnabled")),
    }
    toggles = (
        ("eventsEnabled", wanted.user_events),
        ("adminEventsEnabled", wanted.admin_events),
        ("adminEventsDetailsEnabled", wanted.include_representation),
    )
    for key, value in toggles:
        if value is not None and body[key] != value:
            changes.append(Change(key, _onoff(body[key]), _onoff(value)))
            body[key] = value
    if wanted.expiration is not None and str(body["eventsExpiration"]) != str(wanted.expiration):
        before = human_seconds(body["eventsExpiration"])
        changes.append(Change("eventsExpiration", before, human_seconds(wanted.expiration)))
        body["eventsExpiration"] = wanted.expiration
    stored = list(current.get("enabledEventTypes") or [])
    types = wanted.event_types
    if wanted.add_event_types:
        types = stored + [name for name in wanted.add_event_types if name not in stored]
    # Sent only when it changes: Keycloak shows its defaults for an empty list, and sending them back
    # would pin today's defaults.
    if types is not None and set(types) != set(stored):
        added = sorted(set(types) - set(stored))
        removed = sorted(set(stored) - set(types))
        summary = ", ".join([*(f"+{name}" for name in added), *(f"-{name}" for name in removed)])
        changes.append(Change("enabledEventTypes", f"{len(stored)} types", f"{len(types)} types ({summary})"))
        body["enabledEventTypes"] = types
    if not dry_run and any(change.setting != "adminEventsExpiration" for change in changes):
        await client.request("PUT", config_path, json=body)
    return changes, body["eventsListeners"]
