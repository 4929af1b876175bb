"""Fixtures of the core's tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE_PLUGINS = Path(__file__).resolve().parent.parent / "examples" / "plugins"


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the example plugins of docs/writing-plugins.md, installed with pip as a user
    would; put it on ``PYTHONPATH`` to use them."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), *map(str, sorted(EXAMPLE_PLUGINS.iterdir()))],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return target
