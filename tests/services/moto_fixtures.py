"""The moto server: SQS, SNS, Kinesis and EventBridge on one real HTTP endpoint (``moto[server]``
from PyPI), for the ``aws`` tests. Started once per session on a free 127.0.0.1 port; mark the
tests ``@pytest.mark.aws``.

* ``moto_server``: the running :class:`~kete_core.testing.services.Service` (``moto_server.url``
  via :func:`moto_url`).
* ``aws_client``: a factory of boto3 clients for that endpoint (``aws_client("sqs")``), to set up
  queues and read back what kete sent.

moto missing skips these tests locally and fails them when ``CI=true``.
"""

from __future__ import annotations

import importlib.util
import sys
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kete_core.testing.services import HOST, Service, ServiceSpec, ServiceUnavailable, started

REGION = "us-east-1"
ACCOUNT = "123456789012"
"""moto's account, where unsigned and unknown-key requests land."""


def _moto_program() -> str:
    if importlib.util.find_spec("moto.server") is None or importlib.util.find_spec("flask") is None:
        raise ServiceUnavailable("moto's server is missing: pip install 'moto[server]'")
    return sys.executable


def _serves(service: Service) -> bool:
    try:
        with urllib.request.urlopen(f"http://{service.address()}/moto-api/data.json", timeout=1) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


MOTO = ServiceSpec(
    name="moto",
    program=_moto_program,
    command=lambda s: [s.program, "-m", "moto.server", "-H", HOST, "-p", str(s.ports["main"])],
    ready=_serves,
    env=lambda _s: {"AWS_DEFAULT_REGION": REGION},
)


def moto_url(service: Service) -> str:
    """The endpoint URL of a running moto server."""
    return f"http://{service.address()}"


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One moto server for the session."""
    yield from started(Service(MOTO, tmp_path_factory.mktemp("moto")))


@pytest.fixture(scope="session")
def aws_client(moto_server: Service) -> Callable[[str], Any]:
    """``aws_client("sqs")``: a boto3 client of the moto server."""
    import boto3

    def make(service: str) -> Any:
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=moto_url(moto_server),
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return make
