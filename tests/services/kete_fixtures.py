"""``kete run`` in the background for any test that runs kete as a service manager would (a broker's
restart, a wrong password, a log to wait for): ``spawn_kete``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kete_core.testing import KeteProcess


@pytest.fixture
def spawn_kete() -> Iterator[Callable[..., KeteProcess]]:
    """Start ``kete run <config>`` in the configuration's folder: ``spawn_kete(config_path, env=None,
    name="kete")``; whatever still runs at the end of the test is killed."""
    started: list[KeteProcess] = []

    def spawn(config: Path, env: dict[str, str] | None = None, name: str = "kete") -> KeteProcess:
        process = KeteProcess("run", str(config), cwd=config.parent, env=env, name=name)
        started.append(process)
        return process

    yield spawn
    for process in started:
        process.kill()
