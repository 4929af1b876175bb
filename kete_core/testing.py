"""Helpers for testing kete and its plugins against the real, installed entry points.

Use from a plugin's tests with ``from kete_core.testing import run_kete, load_app``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

from kete_core.application import Application
from kete_core.assembly import build
from kete_core.pipeline import Pipeline
from kete_core.status import RunStats


def run_kete(
    *args: str,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run the ``kete`` command line in a subprocess, as a user would; never raises on failure."""
    environment = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "kete_core.cli", *args],
        cwd=cwd,
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def write_jsonl(path: Path, records: Iterable[Any]) -> Path:
    """Write *records* as JSON lines to *path* and return it."""
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in records))
    return path


def read_jsonl(path: Path) -> list[Any]:
    """The JSON lines of *path*."""
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def load_app(config_path: str | Path, environ: Mapping[str, str] | None = None) -> Application:
    """Load and assemble a configuration file with every installed plugin, as ``kete run`` does."""
    return build(config_path, environ if environ is not None else {})


def run_app(app: Application) -> RunStats:
    """Run an assembled application to the end of its sources and return its counters."""
    return asyncio.run(Pipeline(app).run())
