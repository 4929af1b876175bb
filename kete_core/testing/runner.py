"""Running kete as a user does: the command line in a subprocess, or a configuration file
assembled with every installed plugin and run in-process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
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


def load_app(
    config_path: str | Path, environ: Mapping[str, str] | None = None, *, plugins: Iterable[object] = ()
) -> Application:
    """Load and assemble a configuration file with every installed plugin, as ``kete run`` does;
    *plugins* are hook implementations registered besides them (a :class:`HookRecorder`)."""
    return build(config_path, environ if environ is not None else {}, plugins=plugins)


def run_app(app: Application) -> RunStats:
    """Run an assembled application to the end of its sources and return its counters."""
    return asyncio.run(Pipeline(app).run())


class KeteProcess:
    """``kete <args>`` running in the background, as a service manager runs it; its output in a
    log file (``<cwd>/<name>-<id>.log``). ``stop()`` sends SIGTERM and waits for the exit status."""

    def __init__(self, *args: str, cwd: Path, env: Mapping[str, str] | None = None, name: str = "kete") -> None:
        self.log_path = cwd / f"{name}-{uuid.uuid4().hex[:6]}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kete_core.cli", *args],
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def log(self) -> str:
        """Everything kete wrote so far."""
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 60.0) -> None:
        """Wait until kete logs *text*; fail with the log when it exits or *timeout* passes first."""
        deadline = time.monotonic() + timeout
        while text not in self.log:
            if self.proc.poll() is not None:
                raise AssertionError(f"kete exited ({self.proc.returncode}) before logging {text!r}:\n{self.log}")
            if time.monotonic() > deadline:
                raise AssertionError(f"kete did not log {text!r} in {timeout}s:\n{self.log}")
            time.sleep(0.1)

    def wait(self, timeout: float = 60.0) -> int:
        """Wait for kete to exit by itself and return its status (kill it and fail after *timeout*)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"kete did not finish in {timeout}s:\n{self.log}") from None
        finally:
            self._log.close()

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, then wait for the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        """SIGKILL (a crash) and wait."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._log.close()
