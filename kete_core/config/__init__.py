"""Loading the KETE configuration tree from TOML, ``.properties`` and the environment.

The tree is the original KETE's: ``[kete]`` global settings, ``[sources.<name>]`` and
``[routes.<name>]`` with ``realm-matchers.<id>``, ``event-matchers.<id>``, match modes,
``serializer.*``, ``destination.*`` and ``retry.*``. All three forms produce the same nested
tree; see ``docs/configuration.md`` for the precedence of environment variables.
"""

from kete_core.config.document import KeteConfig, load_config, read_config
from kete_core.config.settings import KeteSettings

__all__ = ["KeteConfig", "KeteSettings", "load_config", "read_config"]
