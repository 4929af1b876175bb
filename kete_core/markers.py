"""The pluggy markers of kete's hooks: :data:`hookspec` declares a hook, :data:`hookimpl`
implements one. They sit apart so that the core's own hook implementations (see
:mod:`kete_core.policy`) and the specifications import them without importing each other."""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("kete")
"""Decorator marking a function of :mod:`kete_core.hookspecs` as a hook specification."""

hookimpl = pluggy.HookimplMarker("kete")
"""Decorator marking a function of a ``kete.hooks`` plugin as a hook implementation."""
