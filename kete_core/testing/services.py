"""Real servers for tests: find or download them, start them on free 127.0.0.1 ports, wait until
they serve, stop them by process group, and cache downloads between runs.

Stdlib only (pytest is imported only by :func:`unavailable`). A server a test needs is described
by a :class:`ServiceSpec`: how to find its program (:func:`debian_program`, :func:`pypi_program`,
:func:`maven_artifacts` with :func:`find_java`), the ports it takes, its command line and how to
tell it is ready. For example, a Redis from the Debian package::

    REDIS = ServiceSpec(
        name="redis",
        program=lambda: debian_program("redis-server", package="redis-server"),
        ports=("client",),
        command=lambda s: [s.program, "--port", str(s.ports["client"]), "--bind", HOST, "--dir", str(s.workdir),
                           "--save", ""],
        ready=lambda s: port_open(s.ports["client"]),
    )

    @pytest.fixture(scope="session")
    def redis(tmp_path_factory):
        yield from started(Service(REDIS, tmp_path_factory.mktemp("redis")))

A program that is missing raises :class:`ServiceUnavailable`, which :func:`started` turns into a
skip with the reason, or a failure when ``CI=true``: CI must run every test. Downloads are cached
in ``$XDG_CACHE_HOME/kete`` (``~/.cache/kete``); Maven keeps its own copies in ``~/.m2``.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import importlib.util
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, NoReturn

HOST = "127.0.0.1"
LOG_FILE = "service.log"


class ServiceUnavailable(RuntimeError):
    """A program the server needs is not installed (its tests are skipped, or fail under ``CI=true``)."""


class ServiceStartError(RuntimeError):
    """The server could not be fetched or did not become ready; the message carries its log's tail."""


# --------------------------------------------------------------------------- pytest


def in_ci() -> bool:
    """Whether ``CI`` says this is a CI run (``true``, ``1`` or ``yes``)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def unavailable(exc: ServiceUnavailable) -> NoReturn:
    """Skip the test that needs the missing program, with the reason; fail it under ``CI=true``."""
    import pytest

    if in_ci():
        pytest.fail(f"CI=true, so every service must run, but: {exc}", pytrace=False)
    pytest.skip(str(exc))


def started(service: Any) -> Iterator[Any]:
    """Start *service* (anything with ``start()`` and ``stop()``), yield it and stop it afterwards;
    a missing program skips (or, under ``CI=true``, fails) the tests that asked for it. Use in a
    session-scoped fixture: ``yield from started(Service(SPEC, tmp_path_factory.mktemp("x")))``."""
    try:
        service.start()
    except ServiceUnavailable as exc:
        unavailable(exc)
    try:
        yield service
    finally:
        service.stop()


def restored(service: Any) -> Iterator[Any]:
    """Yield a session's *service* to one test that may stop it, and start it again afterwards,
    whatever happened (``start()`` leaves a running server alone). Use in the test's fixture:
    ``yield from restored(broker)``."""
    try:
        yield service
    finally:
        service.start()


# --------------------------------------------------------------------------- the cache


def cache_dir() -> Path:
    """Root of kete's download cache (``$XDG_CACHE_HOME/kete``, by default ``~/.cache/kete``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kete"


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on *path*: parallel test sessions must not fill one cache folder at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


# --------------------------------------------------------------------------- finding programs


def debian_program(name: str, *, package: str, directories: Sequence[str] = ("/usr/sbin", "/usr/lib")) -> str:
    """Path of *name* from PATH or the Debian package's usual folders; raises
    :class:`ServiceUnavailable` with the ``apt-get install`` hint."""
    found = shutil.which(name)
    if found:
        return found
    for directory in directories:
        for candidate in Path(directory).glob(f"**/{name}") if directory == "/usr/lib" else [Path(directory) / name]:
            if os.access(candidate, os.X_OK) and candidate.is_file():
                return str(candidate)
    raise ServiceUnavailable(f"{name} is missing: apt-get install {package}")


def pypi_program(module: str, relative: str, *, distribution: str, override: str | None = None) -> str:
    """Path of a program shipped inside a Python package (``<module>/<relative>``), or of
    ``$<override>`` when that is set; raises :class:`ServiceUnavailable` with the ``pip install`` hint."""
    if override and os.environ.get(override):
        path = os.environ[override]
        if not os.access(path, os.X_OK):
            raise ServiceUnavailable(f"{override}={path} is not an executable file")
        return path
    spec = importlib.util.find_spec(module)
    if spec is not None and spec.origin is not None:
        bundled = Path(spec.origin).parent / relative
        if os.access(bundled, os.X_OK):
            return str(bundled)
    name = Path(relative).name
    on_path = shutil.which(name)
    if on_path:
        return on_path
    hint = f" (or set {override})" if override else ""
    raise ServiceUnavailable(f"{name} is missing: pip install {distribution}{hint}")


def npm_program(package: str, version: str, program: str, *, purpose: str) -> str:
    """Path of *program* (a ``node_modules/.bin`` entry) of the npm package *package* at *version*,
    installed once into ``<cache>/<package>-<version>``; raises :class:`ServiceUnavailable` when
    ``npm`` is missing, :class:`ServiceStartError` with npm's output when the install fails."""
    npm = shutil.which("npm")
    if npm is None:
        raise ServiceUnavailable(f"npm is missing ({purpose}): apt-get install npm")
    target = cache_dir() / f"{package.replace('/', '+')}-{version}"
    found = target / "node_modules" / ".bin" / program
    marker = target.with_name(f"{target.name}.complete")
    if marker.is_file() and found.exists():
        return str(found)
    with file_lock(target.with_name(f"{target.name}.lock")):
        if marker.is_file() and found.exists():
            return str(found)
        staging = target.with_name(f"{target.name}.partial-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        command = [npm, "install", "--no-audit", "--no-fund", "--prefix", str(staging), f"{package}@{version}"]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise ServiceStartError(f"npm install {package}@{version} ({purpose}) failed:\n{done.stderr[-4000:]}")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        marker.write_text(f"{package}@{version}\n")
    return str(found)


@lru_cache(maxsize=4)
def java_version_text(java: str) -> str:
    """What ``java -version`` prints."""
    result = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60, check=False)
    return result.stderr + result.stdout


def java_major(java: str) -> int:
    """The major version of *java* (0 when unknown)."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', java_version_text(java))
    if not match:
        return 0
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def find_java(purpose: str, minimum: int = 17) -> str:
    """Path of a ``java`` of at least version *minimum* (``$JAVA_HOME`` first, then PATH)."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = Path(java_home) / "bin" / "java" if java_home else None
    java = str(candidate) if candidate and candidate.is_file() else shutil.which("java")
    if java is None:
        raise ServiceUnavailable(
            f"Java {minimum}+ is needed to run {purpose}: apt-get install openjdk-{minimum}-jre-headless "
            "(or set JAVA_HOME)"
        )
    major = java_major(java)
    if major < minimum:
        raise ServiceUnavailable(f"{purpose} needs Java {minimum}+, but {java} is Java {major or 'of unknown version'}")
    return java


def maven(pom: Path, *arguments: str, workdir: Path, purpose: str, verbose: bool = False) -> None:
    """Run Maven on a copy of *pom* in *workdir* (it never writes next to the original) with
    *arguments* (``dependency:copy-dependencies``, ``dependency:copy -Dartifact=…``); Maven keeps
    what it downloads from Maven Central in ``~/.m2``."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ServiceUnavailable(
            f"Maven (mvn) is needed once to download {purpose} from Maven Central: apt-get install maven"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    copy = workdir / "pom.xml"
    shutil.copyfile(pom, copy)
    command = [mvn, "-B", "-q", "-f", str(copy), *arguments]
    if verbose:
        print(f"fetching {purpose}: {' '.join(command)}", file=sys.stderr)
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=1800, check=False)
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-6000:]
        raise ServiceStartError(f"downloading {purpose} failed (exit {result.returncode}):\n{output}")


def maven_artifacts(
    pom: Path, target: Path, *, purpose: str, properties: Mapping[str, str] | None = None, verbose: bool = False
) -> Path:
    """The runtime dependencies of *pom* copied into the folder *target* (usually under
    :func:`cache_dir`), downloaded once: later calls return the folder at once."""
    marker = target.with_name(f"{target.name}.complete")
    if marker.is_file() and target.is_dir():
        return target
    with file_lock(target.with_name(f"{target.name}.lock")):
        if marker.is_file() and target.is_dir():
            return target
        staging = target.with_name(f"{target.name}.partial-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        defines = [f"-D{key}={value}" for key, value in (properties or {}).items()]
        try:
            maven(
                pom,
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={staging}",
                *defines,
                workdir=target.parent,
                purpose=purpose,
                verbose=verbose,
            )
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        marker.write_text("\n".join(sorted(path.name for path in target.iterdir())) + "\n")
    return target


# --------------------------------------------------------------------------- ports and logs


def free_ports(count: int) -> list[int]:
    """*count* distinct TCP ports free on 127.0.0.1 right now."""
    sockets: list[socket.socket] = []
    try:
        # All stay bound until every port is picked, so the kernel cannot hand out one port twice.
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((HOST, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_open(port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:*port*."""
    try:
        with socket.create_connection((HOST, port), timeout):
            return True
    except OSError:
        return False


def log_tail(path: Path, max_bytes: int = 6000) -> str:
    """The last *max_bytes* of a log file, or a note that it is missing."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - max_bytes))
            return fh.read().decode("utf-8", errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"


# --------------------------------------------------------------------------- processes


def _stat_fields(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def pid_alive(pid: int) -> bool:
    """Whether *pid* is a live process (zombies count as dead: PID 1 here may never reap them)."""
    fields = _stat_fields(pid)
    if fields is None:
        return Path(f"/proc/{pid}").exists()
    return fields[0] not in ("Z", "X")


def cmdline(pid: int) -> str:
    """The command line of *pid*, or ``""``."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def pid_runs(pid: int, marker: str) -> bool:
    """Whether *pid* is alive and its command line holds *marker* (guards against PID reuse)."""
    return pid_alive(pid) and marker in cmdline(pid)


def group_members(pgid: int) -> list[int]:
    """The live (non-zombie) processes of process group *pgid*."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            # After the command name: state, ppid, pgrp, ...
            if fields is not None and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                members.append(int(entry.name))
    return members


def _wait_group_gone(pgid: int, proc: subprocess.Popen[bytes] | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None:
            proc.poll()  # reap the leader so that it does not linger as a zombie of ours
        if not group_members(pgid):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_group(pgid: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 30.0) -> bool:
    """SIGTERM process group *pgid*, SIGKILL it after *timeout* seconds, wait until every member
    is gone; True when SIGKILL was needed."""
    _signal_group(pgid, signal.SIGTERM)
    if _wait_group_gone(pgid, proc, timeout):
        killed = False
    else:
        kill_group(pgid, proc)
        killed = True
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
    return killed


def kill_group(pgid: int, proc: subprocess.Popen[bytes] | None = None) -> None:
    """SIGKILL process group *pgid* (a crash) and wait until every member is gone."""
    _signal_group(pgid, signal.SIGKILL)
    if not _wait_group_gone(pgid, proc, 30.0):
        raise RuntimeError(f"process group {pgid} survived SIGKILL: {group_members(pgid)}")
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)


@lru_cache(maxsize=1)
def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def spawn(
    argv: Sequence[str],
    *,
    log_path: Path,
    cwd: Path,
    die_with_parent: bool = True,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start a server in its own session and process group (its PID is the group's id), with
    stdout and stderr appended to *log_path*; with *die_with_parent* it is killed if this process
    dies, so a killed pytest leaves no server behind."""
    preexec: Callable[[], None] | None = None
    # PR_SET_PDEATHSIG fires when the creating *thread* exits, so it is only safe from the main thread.
    if die_with_parent and sys.platform == "linux" and threading.current_thread() is threading.main_thread():
        libc = _libc()

        def preexec() -> None:
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG

    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=None if env is None else dict(env),
            start_new_session=True,  # Ctrl-C in the terminal reaches pytest, which then stops the server in order
            preexec_fn=preexec,
        )


def wait_ready(
    ready: Callable[[], bool],
    proc: subprocess.Popen[bytes],
    *,
    what: str,
    log_path: Path,
    timeout: float,
    interval: float = 0.05,
) -> None:
    """Poll *ready* until it holds; raise :class:`ServiceStartError` with the log's tail when the
    process exits first or *timeout* seconds pass (the caller then stops what is left)."""
    deadline = time.monotonic() + timeout
    while True:
        code = proc.poll()
        if code is not None:
            raise ServiceStartError(f"{what} exited with code {code} while starting; log tail:\n{_tail(log_path)}")
        # A server that is starting may answer half a protocol: that is "not yet", not an error.
        with contextlib.suppress(OSError, ValueError, struct.error):
            if ready():
                return
        if time.monotonic() > deadline:
            raise ServiceStartError(f"{what} not ready after {timeout:.0f} s; log tail:\n{_tail(log_path)}")
        time.sleep(interval)


def _tail(path: Path) -> str:
    return f"--- {path} ---\n{log_tail(path)}"


# --------------------------------------------------------------------------- a server from a spec


@dataclass(frozen=True)
class ServiceSpec:
    """How to run one kind of server.

    :ivar name: what messages call it (``"tansu"``, ``"redis"``).
    :ivar program: finds (or downloads) the program; raises :class:`ServiceUnavailable` when it cannot.
    :ivar ports: names of the ports to take; each gets a free 127.0.0.1 port in ``service.ports``.
    :ivar command: the command line, given the :class:`Service` (its program, ports, workdir).
    :ivar ready: whether the started server serves (a TCP connect, a protocol probe, an HTTP 200).
    :ivar env: extra environment, given the :class:`Service`; ``scrub`` names inherited variables to drop.
    :ivar log_file: the name of its log in its folder.
    """

    name: str
    program: Callable[[], str]
    command: Callable[[Service], Sequence[str]]
    ready: Callable[[Service], bool]
    ports: Sequence[str] = ("main",)
    env: Callable[[Service], Mapping[str, str]] = lambda _service: {}
    scrub: Callable[[str], bool] = lambda _name: False
    start_timeout: float = 30.0
    log_file: str = LOG_FILE


@dataclass
class Service:
    """One server of a :class:`ServiceSpec`, with its own folder (``workdir``: state, data, log).

    ``start()`` takes free ports the first time and keeps them across ``stop()``/``start()``;
    ``stop()`` ends its whole process group; ``kill()`` is a crash.
    """

    spec: ServiceSpec
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kete-service-")))
    die_with_parent: bool = True
    ports: dict[str, int] = field(default_factory=dict)
    program: str = ""
    pid: int | None = None
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        """Where the server's output goes."""
        return self.workdir / self.spec.log_file

    def address(self, port: str | None = None) -> str:
        """``127.0.0.1:<port>`` of the named port (the first one by default)."""
        return f"{HOST}:{self.ports[port or self.spec.ports[0]]}"

    def is_running(self) -> bool:
        """Whether the server's process group still has live processes."""
        return self.pid is not None and bool(group_members(self.pid))

    def start(self) -> None:
        """Find the program, start the server and wait until it is ready."""
        if self.is_running():
            return
        self.program = self.spec.program()
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.ports:
            self.ports = dict(zip(self.spec.ports, free_ports(len(self.spec.ports)), strict=True))
        env = {name: value for name, value in os.environ.items() if not self.spec.scrub(name)}
        env.update(self.spec.env(self))
        self._proc = spawn(
            self.spec.command(self),
            log_path=self.log_path,
            cwd=self.workdir,
            die_with_parent=self.die_with_parent,
            env=env,
        )
        self.pid = self._proc.pid
        try:
            wait_ready(
                lambda: self.spec.ready(self),
                self._proc,
                what=self.spec.name,
                log_path=self.log_path,
                timeout=self.spec.start_timeout,
            )
        except ServiceStartError:
            self.kill()
            raise

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM the server's process group, SIGKILL after *timeout* s, wait until it is gone."""
        if self.pid is not None:
            stop_group(self.pid, self._proc, timeout)
        self.pid, self._proc = None, None

    def kill(self) -> None:
        """SIGKILL the server's process group, as a crash would."""
        if self.pid is not None:
            kill_group(self.pid, self._proc)
        self.pid, self._proc = None, None

    def restart(self, timeout: float = 30.0) -> None:
        """``stop()`` then ``start()`` on the same ports."""
        self.stop(timeout)
        self.start()

    def __enter__(self) -> Service:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


__all__ = [
    "HOST",
    "Service",
    "ServiceSpec",
    "ServiceStartError",
    "ServiceUnavailable",
    "cache_dir",
    "debian_program",
    "file_lock",
    "find_java",
    "free_ports",
    "in_ci",
    "kill_group",
    "log_tail",
    "maven",
    "maven_artifacts",
    "npm_program",
    "pid_alive",
    "pid_runs",
    "port_open",
    "pypi_program",
    "spawn",
    "started",
    "stop_group",
    "unavailable",
    "wait_ready",
]
