from __future__ import annotations

import inspect
from pathlib import Path

from kete_core import hookspecs
from kete_core.hookdoc import render

ROOT = Path(__file__).resolve().parent.parent


def test_hooks_md_is_generated_from_the_hookspecs():
    assert (ROOT / "docs" / "hooks.md").read_text() == render(), "run: python -m kete_core.hookdoc > docs/hooks.md"


def test_every_hook_is_documented_with_its_signature():
    doc = (ROOT / "docs" / "hooks.md").read_text()
    hooks = [name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("kete_")]
    assert len(hooks) >= 12
    for name in hooks:
        function = getattr(hookspecs, name)
        assert f"def {name}{str(inspect.signature(function)).replace(chr(39), '')}" in doc
        assert (function.__doc__ and ":param" in function.__doc__) or not inspect.signature(function).parameters
