"""What ``kete check`` warns about: a configuration kete can run that will probably not do what
was meant (nothing to read, nowhere to deliver, an input that does not exist, an address some of a
route's events have no value for)."""

from __future__ import annotations

from kete_core.addresses import address_warnings
from kete_core.application import Application
from kete_core.errors import ConfigWarning


def preflight(app: Application) -> list[ConfigWarning]:
    """The warnings of *app*'s configuration, its environment and its sources."""
    config = app.config
    warnings = list(config.warnings)
    if not app.sources:
        warnings.append(
            ConfigWarning(
                "no source: `kete run` has nothing to read and ends at once",
                path=config.origin,
                hint='add a [sources.<name>] table, e.g. kind = "file" with a path',
            )
        )
    if not app.routes:
        if config.routes:
            problem, hint = "every route is disabled", "enable one (enabled = true)"
        else:
            problem, hint = "no route", "add a [routes.<name>] table with a destination"
        warnings.append(
            ConfigWarning(f"{problem}: events are read and delivered nowhere", path=config.origin, hint=hint)
        )
    for source in app.sources:
        warnings.extend(source.warnings())
    return warnings + address_warnings(app)
