"""A throwaway Keycloak server for tests, plus urllib helpers that make real user and admin events.

Stdlib only. The server distribution (``org.keycloak:keycloak-quarkus-dist`` zip) comes from Maven Central through
``tests/services/keycloak/pom.xml`` (which pins the versions), is cached in ``~/.m2`` and unpacked to
``~/.cache/kete/keycloak-<version>/``; only Java 17+ and Maven are needed. Manual use::

    python -m tests.services.keycloak_server fetch [--legacy | --all]      # download and build only
    python -m tests.services.keycloak_server start [--legacy] [--dir DIR] [--port N] [--json-log]
    python -m tests.services.keycloak_server status [--dir DIR]
    python -m tests.services.keycloak_server stop [--dir DIR] [--clean]

Each server gets its own data folder (H2 ``dev-file`` database), so every test session starts clean. It listens
on 127.0.0.1 only, imports the realms in ``tests/services/keycloak/*-realm.json`` and logs every event through
the ``jboss-logging`` listener (success at INFO, errors at WARN) to :attr:`KeycloakServer.log_file`.

Start-up is kept short by running ``kc.sh build`` once per cached version (then ``start --optimized``) and by
copying a pristine database made once per version and realm-file content (``kete-templates/`` in the cache).

Environment: ``XDG_CACHE_HOME`` (cache root), ``JAVA_HOME``.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import weakref
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from kete_core.testing.services import (
    ServiceStartError,
    ServiceUnavailable,
    cache_dir,
    file_lock,
    free_ports,
    group_members,
    log_tail,
    maven,
    spawn,
    stop_group,
    wait_ready,
)
from kete_core.testing.services import (
    find_java as find_java_for,
)

HOST = "127.0.0.1"
SUPPORT_DIR = Path(__file__).resolve().parent / "keycloak"
POM_PATH = SUPPORT_DIR / "pom.xml"
STATE_FILE = "kete-keycloak.json"
LOG_FILE = "keycloak.log"
CONSOLE_LOG = "console.log"
MANUAL_DIR = Path(tempfile.gettempdir()) / "kete-keycloak-manual"

# What the realm files in tests/services/keycloak/ define (test_keycloak_services checks they agree).
REALM = "kete-test"
OTHER_REALM = "kete-other"
POLLER_CLIENT_ID = "kete-poller"
POLLER_CLIENT_SECRET = "kete-poller-secret"
LOGIN_CLIENT_ID = "kete-login"
USERS: Mapping[str, str] = {"alice": "alice-password-1", "bob": "bob-password-2", "carol": "carol-password-3"}
OTHER_USERS: Mapping[str, str] = {"dave": "dave-password-4"}
REALM_ROLES = ("kete-reader", "kete-writer")
POLLER_ROLES = (
    "view-events",
    "manage-events",
    "view-realm",
    "manage-users",
    "view-users",
    "query-users",
    "view-clients",
    "manage-clients",
)
ADMIN_USERNAME = "kete-admin"
ADMIN_PASSWORD = "kete-admin-password"

# Options baked into the cached distribution by `kc.sh build` (changing them rebuilds it).
BUILD_OPTIONS = ("--db=dev-file", "--health-enabled=true")
# C1-only JIT: start-up dominates a test server's life, and on 2 cores C2 compiles compete with it.
DEFAULT_JAVA_OPTS = ("-Xms64m", "-Xmx512m", "-XX:TieredStopAtLevel=1")
# Inherited variables that kc.sh or Keycloak would read and that would make a run depend on the caller's shell.
_SCRUBBED_ENV = (
    "JAVA_OPTS",
    "JAVA_OPTS_APPEND",
    "JAVA_OPTS_KC_HEAP",
    "JAVA_ADD_OPENS",
    "JAVA_LOCALE",
    "DEBUG",
    "DEBUG_PORT",
    "DEBUG_SUSPEND",
    "PRINT_ENV",
    "JAVA",
)
EVENT_ID_SINCE = (26, 2)


class KeycloakUnavailable(ServiceUnavailable):
    """A tool the server needs (Java 17+, Maven for the first download) is not installed."""


class KeycloakStartError(ServiceStartError):
    """The server could not be fetched, built or started; the message carries the tail of its log."""


class KeycloakHTTPError(RuntimeError):
    """A Keycloak HTTP call answered with a non-2xx status."""

    def __init__(self, method: str, url: str, status: int, body: str) -> None:
        super().__init__(f"{method} {url} -> HTTP {status}: {body[:500]}")
        self.method, self.url, self.status, self.body = method, url, status, body

    def json(self) -> Any:
        """The error body parsed as JSON."""
        return json.loads(self.body)


# --- versions, tools and the cache ------------------------------------------------------------------------


def _pom_property(name: str) -> str:
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    element = ET.parse(POM_PATH).getroot().find(f"m:properties/m:{name}", ns)
    if element is None or not element.text:
        raise RuntimeError(f"no <{name}> property in {POM_PATH}")
    return element.text.strip()


def pinned_versions() -> tuple[str, str]:
    """``(current, legacy)`` Keycloak versions pinned in ``tests/services/keycloak/pom.xml``."""
    return _pom_property("keycloak.version"), _pom_property("keycloak.legacy.version")


KEYCLOAK_VERSION, KEYCLOAK_LEGACY_VERSION = pinned_versions()


def version_tuple(version: str) -> tuple[int, ...]:
    """``"26.1.4"`` -> ``(26, 1, 4)`` (non-numeric suffixes are ignored)."""
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def has_event_ids(version: str) -> bool:
    """Whether this Keycloak version returns event ids, epoch-ms ``dateFrom`` and ``direction`` (26.2+)."""
    return version_tuple(version) >= EVENT_ID_SINCE


def distribution_dir(version: str) -> Path:
    """Where the unpacked distribution of ``version`` lives (``~/.cache/kete/keycloak-<version>``)."""
    return cache_dir() / f"keycloak-{version}"


def find_java() -> str:
    """Path of a Java 17+ ``java`` (``$JAVA_HOME`` first, then ``PATH``); raises :class:`KeycloakUnavailable`."""
    try:
        return find_java_for("the Keycloak test server")
    except ServiceUnavailable as exc:
        raise KeycloakUnavailable(str(exc)) from exc


def _clean_env(java: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KC_", "KEYCLOAK_")) and k not in _SCRUBBED_ENV}
    env["JAVA"] = java
    return env


def _unzip(archive: Path, target: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            path = Path(zf.extract(info, target))
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                # zipfile drops permissions, and bin/kc.sh must stay executable.
                path.chmod(mode)


def _download(version: str, work: Path, verbose: bool) -> Path:
    artifact = f"org.keycloak:keycloak-quarkus-dist:{version}:zip"
    arguments = ("dependency:copy", f"-Dartifact={artifact}", f"-DoutputDirectory={work}")
    try:
        maven(POM_PATH, *arguments, workdir=work, purpose=f"{artifact} (the Keycloak test server)", verbose=verbose)
    except ServiceUnavailable as exc:
        raise KeycloakUnavailable(str(exc)) from exc
    except ServiceStartError as exc:
        raise KeycloakStartError(str(exc)) from exc
    archive = work / f"keycloak-quarkus-dist-{version}.zip"
    if not archive.is_file():
        raise KeycloakStartError(f"Maven reported success but {archive} is missing")
    return archive


def ensure_distribution(version: str = KEYCLOAK_VERSION, *, verbose: bool = False) -> Path:
    """Return the unpacked, built distribution of ``version``, downloading and building it on first use."""
    home = distribution_dir(version)
    marker = home / ".kete-built"
    stamp = json.dumps({"version": version, "build": BUILD_OPTIONS})
    if marker.is_file() and marker.read_text() == stamp:
        return home
    java = find_java()
    with file_lock(cache_dir() / f"keycloak-{version}.lock"):
        if marker.is_file() and marker.read_text() == stamp:
            return home
        if not (home / "bin" / "kc.sh").is_file():
            work = Path(tempfile.mkdtemp(prefix=f".keycloak-{version}-", dir=cache_dir()))
            try:
                started = time.monotonic()
                archive = _download(version, work, verbose)
                _unzip(archive, work / "unpacked")
                shutil.rmtree(home, ignore_errors=True)
                (work / "unpacked" / f"keycloak-{version}").rename(home)
                if verbose:
                    size = archive.stat().st_size / 1e6
                    print(
                        f"Keycloak {version}: {size:.0f} MB fetched and unpacked in {time.monotonic() - started:.0f} s",
                        file=sys.stderr,
                    )
            finally:
                shutil.rmtree(work, ignore_errors=True)
        if verbose:
            print(f"building Keycloak {version} ({' '.join(BUILD_OPTIONS)})", file=sys.stderr)
        build_log = home / "kete-build.log"
        with build_log.open("wb") as log:
            result = subprocess.run(
                [str(home / "bin" / "kc.sh"), "build", *BUILD_OPTIONS],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=home,
                env=_clean_env(java),
                timeout=1800,
                check=False,
            )
        if result.returncode != 0:
            raise KeycloakStartError(f"kc.sh build failed (exit {result.returncode}):\n{log_tail(build_log)}")
        marker.write_text(stamp)
    return home


def default_realm_files() -> list[Path]:
    """The realm import files in ``tests/services/keycloak/`` (``*-realm.json``)."""
    return sorted(SUPPORT_DIR.glob("*-realm.json"))


def _template_key(version: str, realm_files: Sequence[Path], admin: tuple[str, str]) -> str:
    digest = hashlib.sha256(json.dumps([version, BUILD_OPTIONS, admin]).encode())
    for path in realm_files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:20]


def ensure_template(
    version: str = KEYCLOAK_VERSION,
    realm_files: Sequence[Path] | None = None,
    admin: tuple[str, str] = (ADMIN_USERNAME, ADMIN_PASSWORD),
    *,
    verbose: bool = False,
) -> Path:
    """Return a pristine H2 database file (realms imported, bootstrap admin created) for ``version``.

    Made once per version, realm-file content and admin credentials by starting a server with an empty database
    and stopping it cleanly; later servers copy it and skip schema creation and import (about 25-40 s each).
    """
    files = list(realm_files) if realm_files is not None else default_realm_files()
    home = ensure_distribution(version, verbose=verbose)
    template = home / "kete-templates" / _template_key(version, files, admin) / "keycloakdb.mv.db"
    if template.is_file():
        return template
    with file_lock(cache_dir() / f"keycloak-{version}.lock"):
        if template.is_file():
            return template
        if verbose:
            print(f"making a pristine Keycloak {version} database (one-off)", file=sys.stderr)
        server = KeycloakServer(version, realm_files=files, admin=admin, use_template=False, keep_workdir=True)
        try:
            server.start()
            server.stop()
            if server.killed:
                raise KeycloakStartError("the template server needed SIGKILL; its database may be incomplete")
            template.parent.mkdir(parents=True, exist_ok=True)
            partial = template.with_suffix(f".partial-{os.getpid()}")
            shutil.copyfile(server.home / "data" / "h2" / "keycloakdb.mv.db", partial)
            partial.rename(template)
        finally:
            server.stop()
            shutil.rmtree(server.workdir, ignore_errors=True)
    return template


# --- processes --------------------------------------------------------------------------------------------


def _java_launcher(java: str, workdir: Path, die_with_parent: bool) -> str:
    """The ``$JAVA`` kc.sh runs: ``java`` itself, or a wrapper that kills the JVM if kc.sh dies.

    kc.sh (26.2+) forks java instead of exec-ing it, so a SIGKILLed kc.sh would orphan the JVM; setpriv gives the
    JVM its own parent-death signal.
    """
    setpriv = shutil.which("setpriv")
    if not die_with_parent or setpriv is None or sys.platform != "linux":
        return java
    wrapper = workdir / "java-launcher.sh"
    wrapper.write_text(f'#!/bin/sh\nexec "{setpriv}" --pdeathsig KILL "{java}" "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


_LIVE_SERVERS: weakref.WeakSet[KeycloakServer] = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:
    for server in list(_LIVE_SERVERS):
        with contextlib.suppress(Exception):
            server.stop(timeout=10)


# --- the server -------------------------------------------------------------------------------------------


class KeycloakServer:
    """A Keycloak server on 127.0.0.1 with the kete test realms imported, run from a throw-away folder.

    Attributes for tests: :attr:`base_url`, :attr:`admin_username`/:attr:`admin_password` (master realm),
    :attr:`realm`/:attr:`other_realm`, :attr:`poller_client_id`/:attr:`poller_client_secret` (confidential,
    service account with ``view-events``/``manage-events``/``view-realm``/``manage-users``/``manage-clients``),
    :attr:`login_client_id` (public, direct access grants), :attr:`users`/:attr:`other_users` (name -> password),
    :attr:`log_file` (plain or JSON lines, see ``log_file_output``), :attr:`supports_event_ids`.
    """

    def __init__(
        self,
        version: str = KEYCLOAK_VERSION,
        *,
        workdir: Path | None = None,
        realm_files: Sequence[Path] | None = None,
        admin: tuple[str, str] = (ADMIN_USERNAME, ADMIN_PASSWORD),
        log_file_output: Literal["default", "json"] = "default",
        http_port: int | None = None,
        management_port: int | None = None,
        java_opts: Sequence[str] = DEFAULT_JAVA_OPTS,
        extra_args: Sequence[str] = (),
        use_template: bool = True,
        keep_workdir: bool = False,
        die_with_parent: bool = True,
        startup_timeout: float = 600.0,
    ) -> None:
        self.version = version
        self.realm = REALM
        self.other_realm = OTHER_REALM
        self.admin_username, self.admin_password = admin
        self.poller_client_id = POLLER_CLIENT_ID
        self.poller_client_secret = POLLER_CLIENT_SECRET
        self.login_client_id = LOGIN_CLIENT_ID
        self.users: dict[str, str] = dict(USERS)
        self.other_users: dict[str, str] = dict(OTHER_USERS)
        self.realm_roles = REALM_ROLES
        self.log_file_output = log_file_output
        self.realm_files = list(realm_files) if realm_files is not None else default_realm_files()
        self.java_opts = tuple(java_opts)
        self.extra_args = tuple(extra_args)
        self.use_template = use_template
        self.die_with_parent = die_with_parent
        self.startup_timeout = startup_timeout
        self._fixed_ports = (http_port, management_port)
        self.http_port, self.management_port = http_port or 0, management_port or 0
        self._owns_workdir = workdir is None
        self.keep_workdir = keep_workdir
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="kete-keycloak-"))
        self.home = self.workdir / "home"
        self.log_file = self.workdir / LOG_FILE
        self.console_log = self.workdir / CONSOLE_LOG
        self.startup_seconds: float | None = None
        self.killed = False
        self.pid: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # -- addresses -------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        return f"http://{HOST}:{self.http_port}"

    @property
    def management_url(self) -> str:
        """The management interface (``/health``, ``/health/ready``, ``/health/live``)."""
        return f"http://{HOST}:{self.management_port}"

    @property
    def supports_event_ids(self) -> bool:
        """Whether this server's events carry ``id`` and its API takes epoch-ms dates and ``direction``."""
        return has_event_ids(self.version)

    @property
    def running(self) -> bool:
        """Whether the server's process group still has live processes."""
        return self.pid is not None and bool(group_members(self.pid))

    def realm_url(self, realm: str | None = None) -> str:
        """``<base_url>/realms/<realm>`` (the test realm by default)."""
        return f"{self.base_url}/realms/{realm or self.realm}"

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Prepare the distribution (and template database), start the server and wait until it serves."""
        if self.running:
            return
        java = find_java()
        home = ensure_distribution(self.version)
        template = None
        if self.use_template:
            template = ensure_template(self.version, self.realm_files, (self.admin_username, self.admin_password))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._make_home(home, template)
        started = time.monotonic()
        for attempt in range(3):
            http_port, management_port = self._fixed_ports
            if not (http_port and management_port):
                http_port, management_port = free_ports(2)
            self.http_port, self.management_port = http_port, management_port
            try:
                self._spawn_and_wait(home, java, import_realms=template is None)
                break
            except KeycloakStartError as exc:
                # Another process may grab a "free" port between our probe and Keycloak's bind.
                if attempt == 2 or all(self._fixed_ports) or "already in use" not in str(exc).lower():
                    raise
        self.startup_seconds = time.monotonic() - started
        self._write_state()

    def _make_home(self, dist: Path, template: Path | None) -> None:
        # Keycloak keeps its data in <kc.home.dir>/data; everything else is shared read-only with the cache.
        self.home.mkdir(parents=True, exist_ok=True)
        for name in ("lib", "conf", "providers", "themes"):
            link = self.home / name
            if not link.exists():
                link.symlink_to(dist / name, target_is_directory=True)
        data = self.home / "data"
        (data / "import").mkdir(parents=True, exist_ok=True)
        if template is not None and not (data / "h2" / "keycloakdb.mv.db").exists():
            (data / "h2").mkdir(exist_ok=True)
            shutil.copyfile(template, data / "h2" / "keycloakdb.mv.db")
        for realm_file in self.realm_files:
            shutil.copyfile(realm_file, data / "import" / realm_file.name)

    def command(self, dist: Path, *, import_realms: bool) -> list[str]:
        """The ``kc.sh`` command line for the current ports."""
        args = [
            str(dist / "bin" / "kc.sh"),
            f"-Dkc.home.dir={self.home}",
            "start",
            "--optimized",
            "--cache=local",  # no JGroups cluster discovery (it binds non-loopback addresses)
            "--http-enabled=true",
            f"--http-host={HOST}",
            f"--http-port={self.http_port}",
            "--hostname-strict=false",
            f"--http-management-host={HOST}",
            f"--http-management-port={self.management_port}",
            "--log=console,file",
            f"--log-file={self.log_file}",
            "--log-console-color=false",
            # The jboss-logging listener logs successful events at DEBUG unless told otherwise.
            "--spi-events-listener-jboss-logging-success-level=info",
        ]
        if self.log_file_output == "json":
            args.append("--log-file-output=json")
        if import_realms:
            args.append("--import-realm")
        return [*args, *self.extra_args]

    def _spawn_and_wait(self, dist: Path, java: str, *, import_realms: bool) -> None:
        env = _clean_env(_java_launcher(java, self.workdir, self.die_with_parent))
        env.update(
            KC_BOOTSTRAP_ADMIN_USERNAME=self.admin_username,
            KC_BOOTSTRAP_ADMIN_PASSWORD=self.admin_password,
            # Appended after kc.sh's defaults, so these -Xmx/-Xms win.
            JAVA_OPTS_APPEND=" ".join(self.java_opts),
        )
        self._proc = spawn(
            self.command(dist, import_realms=import_realms),
            log_path=self.console_log,
            cwd=self.home,
            env=env,
            die_with_parent=self.die_with_parent,
        )
        self.pid = self._proc.pid
        _LIVE_SERVERS.add(self)
        probe = self.realm_url()
        try:
            wait_ready(
                lambda: _http_status(probe) == 200,
                self._proc,
                what=f"Keycloak {self.version} (folder {self.workdir} kept)",
                log_path=self.console_log,
                timeout=self.startup_timeout,
                interval=0.5,
            )
        except ServiceStartError as exc:
            self._terminate(timeout=10)
            raise KeycloakStartError(str(exc)) from None

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM kc.sh and its JVM (one process group), SIGKILL after ``timeout`` s, wait until both are gone.

        Also deletes the server's folder if this object made it (unless ``keep_workdir``).
        """
        self._terminate(timeout)
        with contextlib.suppress(FileNotFoundError):
            (self.workdir / STATE_FILE).unlink()
        if self._owns_workdir and not self.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _terminate(self, timeout: float) -> None:
        pgid = self.pid
        if pgid is None:
            return
        # kc.sh and its JVM share a process group: both are stopped, whichever forked which.
        if stop_group(pgid, self._proc, timeout):
            self.killed = True
        self.pid, self._proc = None, None
        _LIVE_SERVERS.discard(self)

    def __enter__(self) -> KeycloakServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"KeycloakServer(version={self.version!r}, base_url={self.base_url!r}, pid={self.pid})"

    # -- description and the CLI's state file ------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """Everything a test or a person needs to talk to this server, as JSON-friendly values."""
        return {
            "version": self.version,
            "pid": self.pid,
            "base_url": self.base_url,
            "management_url": self.management_url,
            "http_port": self.http_port,
            "management_port": self.management_port,
            "admin_username": self.admin_username,
            "admin_password": self.admin_password,
            "realm": self.realm,
            "other_realm": self.other_realm,
            "poller_client_id": self.poller_client_id,
            "poller_client_secret": self.poller_client_secret,
            "login_client_id": self.login_client_id,
            "users": self.users,
            "other_users": self.other_users,
            "supports_event_ids": self.supports_event_ids,
            "workdir": str(self.workdir),
            "log_file": str(self.log_file),
            "log_file_output": self.log_file_output,
            "startup_seconds": self.startup_seconds,
        }

    def _write_state(self) -> None:
        (self.workdir / STATE_FILE).write_text(json.dumps(self.describe(), indent=2) + "\n")

    @classmethod
    def attach(cls, workdir: Path) -> KeycloakServer:
        """A handle on a server started by another process (``start`` CLI) from its state file."""
        state = json.loads((workdir / STATE_FILE).read_text())
        server = cls(
            state["version"],
            workdir=workdir,
            admin=(state["admin_username"], state["admin_password"]),
            log_file_output=state["log_file_output"],
            http_port=state["http_port"],
            management_port=state["management_port"],
        )
        server.startup_seconds = state.get("startup_seconds")
        pid = state.get("pid")
        # Guard against PID reuse: the group leader must be this server's kc.sh.
        if pid and str(workdir) in _cmdline(pid):
            server.pid = pid
        return server


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


# --- HTTP helpers: real events with urllib only ------------------------------------------------------------

# No proxies: the server is on loopback, and a proxy from the environment must not see test traffic.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _http_status(url: str) -> int:
    try:
        with _OPENER.open(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def http_request(
    method: str,
    url: str,
    *,
    token: str | None = None,
    form: Mapping[str, str] | None = None,
    json_body: Any = None,
    timeout: float = 30.0,
) -> tuple[int, Mapping[str, str], Any]:
    """Send one request; return ``(status, headers, parsed JSON body or None)``. Non-2xx raises KeycloakHTTPError."""
    headers = {"Accept": "application/json"}
    data: bytes | None = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif json_body is not None:
        data = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            raw = response.read()
            return int(response.status), dict(response.headers), json.loads(raw) if raw.strip() else None
    except urllib.error.HTTPError as exc:
        raise KeycloakHTTPError(method, url, exc.code, exc.read().decode("utf-8", errors="replace")) from None


def _token_call(base_url: str, realm: str, form: Mapping[str, str]) -> dict[str, Any]:
    url = f"{base_url}/realms/{realm}/protocol/openid-connect/token"
    return http_request("POST", url, form=form)[2]


def password_login(
    base_url: str, username: str, password: str, *, realm: str = REALM, client_id: str = LOGIN_CLIENT_ID
) -> dict[str, Any]:
    """Direct-access-grant login (makes a ``LOGIN`` event); returns the token response.

    A wrong password raises :class:`KeycloakHTTPError` (401) and makes a ``LOGIN_ERROR`` event; see
    :func:`failed_login`.
    """
    form = {
        "grant_type": "password",
        "client_id": client_id,
        "username": username,
        "password": password,
        "scope": "openid",
    }
    return _token_call(base_url, realm, form)


def failed_login(
    base_url: str,
    username: str,
    password: str = "not-the-password",
    *,
    realm: str = REALM,
    client_id: str = LOGIN_CLIENT_ID,
) -> dict[str, Any]:
    """A login that must fail (``LOGIN_ERROR`` event); returns Keycloak's error body."""
    try:
        password_login(base_url, username, password, realm=realm, client_id=client_id)
    except KeycloakHTTPError as exc:
        if exc.status not in (400, 401):
            raise
        error: dict[str, Any] = exc.json()
        return error
    raise AssertionError(f"login of {username!r} with {password!r} unexpectedly succeeded")


def refresh(
    base_url: str, refresh_token: str, *, realm: str = REALM, client_id: str = LOGIN_CLIENT_ID
) -> dict[str, Any]:
    """Refresh-token grant (``REFRESH_TOKEN`` event); returns the new token response."""
    form = {"grant_type": "refresh_token", "client_id": client_id, "refresh_token": refresh_token}
    return _token_call(base_url, realm, form)


def logout(base_url: str, refresh_token: str, *, realm: str = REALM, client_id: str = LOGIN_CLIENT_ID) -> None:
    """End the session of ``refresh_token`` (``LOGOUT`` event)."""
    url = f"{base_url}/realms/{realm}/protocol/openid-connect/logout"
    http_request("POST", url, form={"client_id": client_id, "refresh_token": refresh_token})


def client_token(
    base_url: str,
    *,
    realm: str = REALM,
    client_id: str = POLLER_CLIENT_ID,
    client_secret: str = POLLER_CLIENT_SECRET,
) -> str:
    """A client-credentials access token (``CLIENT_LOGIN`` event); by default the ``kete-poller`` service account."""
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
    return str(_token_call(base_url, realm, form)["access_token"])


def admin_token(base_url: str, username: str = ADMIN_USERNAME, password: str = ADMIN_PASSWORD) -> str:
    """An access token of the master realm's bootstrap admin (``admin-cli``); it may administer every realm."""
    form = {"grant_type": "password", "client_id": "admin-cli", "username": username, "password": password}
    return str(_token_call(base_url, "master", form)["access_token"])


def admin_call(
    base_url: str,
    token: str,
    method: str,
    path: str,
    *,
    realm: str = REALM,
    json_body: Any = None,
    params: Mapping[str, Any] | None = None,
) -> Any:
    """``<method> /admin/realms/<realm>/<path>``; returns the parsed JSON body (or None).

    ``params`` values may be lists for repeatable query parameters (``type=LOGIN&type=LOGOUT``).
    """
    query = f"?{urllib.parse.urlencode(params, doseq=True)}" if params else ""
    url = f"{base_url}/admin/realms/{realm}/{path.lstrip('/')}{query}" if path else f"{base_url}/admin/realms/{realm}"
    return http_request(method, url, token=token, json_body=json_body)[2]


def create_user(
    base_url: str,
    token: str,
    username: str,
    *,
    realm: str = REALM,
    password: str | None = None,
    **fields: Any,
) -> str:
    """Create an enabled user (admin event ``CREATE USER``); returns its id."""
    body: dict[str, Any] = {
        "username": username,
        "enabled": True,
        "email": f"{username}@example.org",
        "emailVerified": True,
        "firstName": username.title(),
        "lastName": "Test",
        **fields,
    }
    if password is not None:
        body["credentials"] = [{"type": "password", "value": password, "temporary": False}]
    url = f"{base_url}/admin/realms/{realm}/users"
    _, headers, _ = http_request("POST", url, token=token, json_body=body)
    location = next((value for key, value in headers.items() if key.lower() == "location"), "")
    return location.rstrip("/").rsplit("/", 1)[-1] or find_user_id(base_url, token, username, realm=realm)


def find_user_id(base_url: str, token: str, username: str, *, realm: str = REALM) -> str:
    """The id of the user named ``username``."""
    found = admin_call(base_url, token, "GET", "users", realm=realm, params={"username": username, "exact": "true"})
    if not found:
        raise LookupError(f"no user {username!r} in realm {realm!r}")
    return str(found[0]["id"])


def update_user(base_url: str, token: str, user_id: str, changes: Mapping[str, Any], *, realm: str = REALM) -> None:
    """Apply ``changes`` to a user (admin event ``UPDATE USER``)."""
    admin_call(base_url, token, "PUT", f"users/{user_id}", realm=realm, json_body=dict(changes))


def delete_user(base_url: str, token: str, user_id: str, *, realm: str = REALM) -> None:
    """Delete a user (admin event ``DELETE USER``)."""
    admin_call(base_url, token, "DELETE", f"users/{user_id}", realm=realm)


def add_realm_role_mapping(base_url: str, token: str, user_id: str, role: str, *, realm: str = REALM) -> None:
    """Grant realm role ``role`` to a user (admin event ``CREATE REALM_ROLE_MAPPING``)."""
    representation = admin_call(base_url, token, "GET", f"roles/{urllib.parse.quote(role)}", realm=realm)
    admin_call(base_url, token, "POST", f"users/{user_id}/role-mappings/realm", realm=realm, json_body=[representation])


def update_client(base_url: str, token: str, client_id: str, changes: Mapping[str, Any], *, realm: str = REALM) -> str:
    """Apply ``changes`` to the client whose ``clientId`` is ``client_id`` (admin event ``UPDATE CLIENT``).

    Returns the client's internal id (what admin events carry in ``authDetails.clientId``).
    """
    found = admin_call(base_url, token, "GET", "clients", realm=realm, params={"clientId": client_id})
    if not found:
        raise LookupError(f"no client {client_id!r} in realm {realm!r}")
    client = {**found[0], **changes}
    admin_call(base_url, token, "PUT", f"clients/{client['id']}", realm=realm, json_body=client)
    return str(client["id"])


def get_events(
    base_url: str, token: str, *, realm: str = REALM, admin: bool = False, **params: Any
) -> list[dict[str, Any]]:
    """``GET /admin/realms/<realm>/events`` (or ``/admin-events`` with ``admin=True``) with query ``params``."""
    events: list[dict[str, Any]] = admin_call(
        base_url, token, "GET", "admin-events" if admin else "events", realm=realm, params=params
    )
    return events


def wait_for_log(path: Path, *needles: str, timeout: float = 15.0) -> str:
    """Wait until a line of ``path`` contains every one of ``needles``; return that line."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(FileNotFoundError), path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if all(needle in line for needle in needles):
                    return line.rstrip("\n")
        if time.monotonic() > deadline:
            raise TimeoutError(f"no line with {needles!r} in {path} after {timeout:.0f} s")
        time.sleep(0.2)


# --- command line -----------------------------------------------------------------------------------------


def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.services.keycloak_server", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="action", required=True)
    for name in ("fetch", "start", "status", "stop"):
        cmd = sub.add_parser(name)
        if name in ("fetch", "start"):
            group = cmd.add_mutually_exclusive_group()
            group.add_argument("--version", help=f"Keycloak version (default {KEYCLOAK_VERSION})")
            group.add_argument("--legacy", action="store_true", help=f"use {KEYCLOAK_LEGACY_VERSION}")
            if name == "fetch":
                group.add_argument("--all", action="store_true", help="both pinned versions")
        if name != "fetch":
            cmd.add_argument("--dir", type=Path, default=MANUAL_DIR, help=f"server folder (default {MANUAL_DIR})")
        if name == "start":
            cmd.add_argument("--port", type=int, help="HTTP port (default: a free one)")
            cmd.add_argument("--management-port", type=int, help="management port (default: a free one)")
            cmd.add_argument("--json-log", action="store_true", help="write the log file as JSON lines")
        if name == "stop":
            cmd.add_argument("--clean", action="store_true", help="also delete the server folder")
    args = parser.parse_args(argv)

    if args.action == "fetch":
        if args.all:
            versions = [KEYCLOAK_VERSION, KEYCLOAK_LEGACY_VERSION]
        else:
            versions = [KEYCLOAK_LEGACY_VERSION if args.legacy else args.version or KEYCLOAK_VERSION]
        for version in versions:
            started = time.monotonic()
            ensure_template(version, verbose=True)
            print(f"Keycloak {version} ready in {distribution_dir(version)} ({time.monotonic() - started:.0f} s)")
        return 0

    workdir: Path = args.dir.resolve()
    if args.action == "start":
        if (workdir / STATE_FILE).exists() and KeycloakServer.attach(workdir).running:
            print(f"already running: see {workdir / STATE_FILE}", file=sys.stderr)
            return 1
        version = KEYCLOAK_LEGACY_VERSION if args.legacy else args.version or KEYCLOAK_VERSION
        # A manual server starts clean too.
        shutil.rmtree(workdir / "home" / "data", ignore_errors=True)
        for name in (LOG_FILE, CONSOLE_LOG):
            (workdir / name).unlink(missing_ok=True)
        server = KeycloakServer(
            version,
            workdir=workdir,
            http_port=args.port,
            management_port=args.management_port,
            log_file_output="json" if args.json_log else "default",
            die_with_parent=False,
        )
        server.start()
        _LIVE_SERVERS.discard(server)  # it must outlive this command
        print(json.dumps(server.describe(), indent=2))
        return 0

    if not (workdir / STATE_FILE).exists():
        print(f"no server state in {workdir}", file=sys.stderr)
        return 1 if args.action == "status" else 0
    server = KeycloakServer.attach(workdir)
    if args.action == "status":
        print(json.dumps({**server.describe(), "running": server.running}, indent=2))
        return 0 if server.running else 1
    server.stop()
    (workdir / STATE_FILE).unlink(missing_ok=True)
    if args.clean:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"stopped Keycloak in {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
