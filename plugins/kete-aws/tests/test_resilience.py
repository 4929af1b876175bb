"""An AWS endpoint that goes away while kete runs, and credentials the service refuses: nothing is
lost, nothing is dead-lettered, and ``/ready`` says why the route waits."""

from __future__ import annotations

import asyncio
import contextlib
import urllib.error
import urllib.request

import orjson
import pytest

from kete_core.testing import KeteProcess, write_jsonl
from kete_core.testing.contracts import user_event
from kete_core.testing.outage import TcpRelay, readiness, run_through_an_outage
from kete_core.testing.services import HOST, Service, ServiceSpec, free_ports, started
from tests.services.moto_fixtures import MOTO, REGION, moto_url
from tests.services.waiting import until

pytestmark = pytest.mark.aws


async def test_an_endpoint_down_mid_run_loses_nothing_and_ready_says_why(tmp_path, aws, moto_server):
    aws.sqs_targets(("acme",))
    relay = TcpRelay(moto_server.ports["main"])
    await relay.open()
    endpoint = f"http://{HOST}:{relay.port}"
    destination = {**aws.settings(), "kind": "aws-sqs", "queue": aws.name("acme"), "endpoint-url": endpoint,
                   "timeout-seconds": "1"}  # fmt: skip
    try:
        report = await run_through_an_outage(
            tmp_path,
            destination,
            received=lambda: [orjson.loads(message.body)["id"] for message in aws.receive()],
            stop=relay.close,
            start=relay.open,
        )
    finally:
        with contextlib.suppress(AssertionError):
            await relay.close()
    assert "unreachable" in report.not_ready and endpoint in report.not_ready, report.not_ready
    ids = [orjson.loads(message.body)["id"] for message in aws.receive()]
    assert sorted(set(ids)) == sorted(event["id"] for event in report.sent)


# Every request must be signed with a key moto's IAM knows (no unauthenticated actions at all).
MOTO_IAM = ServiceSpec(
    name="moto-iam",
    program=MOTO.program,
    command=MOTO.command,
    ready=lambda s: _serves_any(s),
    env=lambda _s: {"AWS_DEFAULT_REGION": REGION, "INITIAL_NO_AUTH_ACTION_COUNT": "0"},
)


def _serves_any(service: Service) -> bool:
    try:
        urllib.request.urlopen(f"http://{service.address()}/moto-api/data.json", timeout=1).close()
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def moto_with_iam(tmp_path_factory):
    yield from started(Service(MOTO_IAM, tmp_path_factory.mktemp("moto-iam")))


async def test_refused_credentials_keep_the_route_waiting_with_a_clear_reason(tmp_path, aws, moto_with_iam):
    (metrics,) = free_ports(1)
    write_jsonl(tmp_path / "events.jsonl", [user_event(number) for number in range(1, 4)])
    lines = [
        f"kete.data-dir={tmp_path / 'data'}",
        "kete.sources.live.kind=file",
        f"kete.sources.live.path={tmp_path / 'events.jsonl'}",
        "kete.sources.live.follow=true",
        "kete.metrics.enabled=true",
        f"kete.metrics.address={HOST}:{metrics}",
    ]
    destination = {**aws.settings(), "kind": "aws-sqs", "queue": aws.name("acme"),
                   "endpoint-url": moto_url(moto_with_iam), "secret-access-key": "wrong-secret"}  # fmt: skip
    lines += [f"kete.routes.queue.destination.{key}={value}" for key, value in destination.items()]
    config = tmp_path / "kete.properties"
    config.write_text("\n".join(lines) + "\n")
    kete = KeteProcess("run", str(config), cwd=tmp_path)
    try:
        await asyncio.to_thread(kete.wait_for_log, "the credentials were refused", 30)
        reason = ""

        def reported() -> bool:
            nonlocal reason
            reason = str(readiness(metrics)[1])
            return "credentials were refused" in reason

        await until(reported, what="/ready to give the reason")
        assert "route queue" in reason, reason
    finally:
        kete.stop()
    assert "wrong-secret" not in kete.log
    assert not (tmp_path / "data" / "dead-letters").exists() or not any((tmp_path / "data" / "dead-letters").iterdir())
