"""The application model: what ``kete run`` runs, as :mod:`kete_core.assembly` built it from a
configuration."""

from __future__ import annotations

from dataclasses import dataclass

import pluggy

from kete_core.config import KeteConfig
from kete_core.contracts import Renderer, Source
from kete_core.routing import Route


@dataclass
class Application:
    """Everything ``kete run`` needs, built and checked.

    :ivar config: the configuration it was built from.
    :ivar plugins: the plugin manager holding the hook plugins (call hooks through
        :class:`kete_core.hooks.Hooks`).
    :ivar renderer: the run's template renderer.
    :ivar routes: the enabled routes, in configuration order.
    :ivar sources: the sources, in configuration order.
    """

    config: KeteConfig
    plugins: pluggy.PluginManager
    renderer: Renderer
    routes: list[Route]
    sources: list[Source]
