"""kete-keycloak's hook plugin: adds the ``kete keycloak`` commands."""

from __future__ import annotations

import click

from kete_core import hookimpl


@hookimpl
def kete_add_commands(cli: click.Group) -> None:
    """Add ``kete keycloak enable-events``."""
    from kete_keycloak.commands import keycloak

    cli.add_command(keycloak)
