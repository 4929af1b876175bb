"""A configuration written for the original KETE names a destination or serializer kind that no
installed distribution provides: ``kete check`` and ``kete run`` say where it comes from."""

from __future__ import annotations

from pathlib import Path

import pytest

from kete_core import discovery
from kete_core.errors import PluginError
from kete_core.testing import run_kete

# The original's @Component names (FortuneN/kete, destinations/*/ and serializers/*).
KETE_DESTINATIONS = {
    "kafka", "amqp-0.9.1", "amqp-1", "mqtt-3", "mqtt-5", "redis-pubsub", "redis-stream", "nats", "nats-jetstream",
    "pulsar", "http", "soap", "websocket", "stomp", "zeromq", "signalr", "socketio", "grpc", "aws-sqs", "aws-sns",
    "aws-kinesis", "aws-eventbridge", "azure-eventhubs", "azure-servicebus", "azure-eventgrid",
    "azure-storage-queue", "azure-webpubsub", "gcp-pubsub", "gcp-cloud-tasks",
}  # fmt: skip
KETE_SERIALIZERS = {
    "json", "yaml", "xml", "csv", "toml", "properties", "cbor", "smile", "avro", "protobuf", "url-encoded-form",
    "multipart-form", "template",
}  # fmt: skip


def test_the_table_has_every_kind_of_the_original():
    destinations = {name for kind, name in discovery.KETE_KINDS if kind == "sink"}
    serializers = {name for kind, name in discovery.KETE_KINDS if kind == "serializer"}
    assert len(KETE_DESTINATIONS) == 29 and len(KETE_SERIALIZERS) == 13
    assert destinations - {"redis-streams"} == KETE_DESTINATIONS
    assert serializers == KETE_SERIALIZERS


def test_the_table_agrees_with_what_is_installed():
    # A kind an installed first-party distribution provides is listed under that distribution.
    for kind in ("sink", "serializer"):
        for item in discovery.installed(kind):
            if (kind, item.name) in discovery.KETE_KINDS:
                assert discovery.KETE_KINDS[(kind, item.name)] == item.info.distribution, item


def check(tmp_path, lines: str, command: str = "check"):
    config = tmp_path / "kete.toml"
    config.write_text(f"[routes.r]\n{lines}")
    return run_kete(command, str(config))


def a_planned_kind() -> tuple[str, str, str]:
    """A destination kind of the original whose kete distribution is planned and not installed."""
    installed = {item.name for item in discovery.installed("sink")}
    for (kind, name), provider in discovery.KETE_KINDS.items():
        if kind == "sink" and provider in discovery.PLANNED and name not in installed:
            return kind, name, provider
    pytest.skip("every destination kind of the original has shipped; the in-process tests below still run")


@pytest.mark.parametrize("command", ["check", "run"])
def test_a_kind_a_planned_distribution_provides(tmp_path, command):
    _, name, provider = a_planned_kind()
    result = check(tmp_path, f'destination.kind = "{name}"\ndestination.host = "localhost"\n', command)
    assert result.returncode == 2
    first, hint = result.stderr.splitlines()[:2]
    assert first == f"kete: error: routes.r.destination.kind: unknown destination kind '{name}'"
    assert hint.startswith(
        f"kete:   hint: '{name}' is one of the original KETE's destination kinds, but no kete distribution provides "
        f"it yet ({provider} is planned); docs/writing-plugins.md shows how to write one; installed: "
    )
    assert "pip install" not in result.stderr


@pytest.mark.parametrize("kind", ["sink", "serializer"])
def test_a_planned_distribution_is_never_offered_for_pip_install(monkeypatch, kind):
    monkeypatch.setitem(discovery.KNOWN_PROVIDERS, (kind, "carrier-pigeon"), "kete-pigeon")
    monkeypatch.setattr(discovery, "PLANNED", discovery.PLANNED | {"kete-pigeon"})
    with pytest.raises(PluginError) as caught:
        discovery.load(kind, "carrier-pigeon", path="routes.r.x.kind")
    message = str(caught.value)
    assert f"unknown {discovery.noun(kind)} 'carrier-pigeon'" in message
    assert "no kete distribution provides it yet (kete-pigeon is planned)" in message
    assert "pip install" not in message


def test_a_kind_no_distribution_provides_yet(monkeypatch):
    monkeypatch.setitem(discovery.KNOWN_PROVIDERS, ("sink", "carrier-pigeon"), None)
    with pytest.raises(PluginError) as caught:
        discovery.load("sink", "carrier-pigeon", path="routes.r.destination.kind")
    message = str(caught.value)
    assert "no kete distribution provides it yet; docs/writing-plugins.md shows how to write one" in message
    assert "did you mean" not in message
    assert "pip install" not in message


def test_an_installed_distribution_without_the_kind_is_to_be_upgraded(monkeypatch):
    monkeypatch.setitem(discovery.KNOWN_PROVIDERS, ("sink", "kafka-streams"), "kete-kafka")
    with pytest.raises(PluginError) as caught:
        discovery.load("sink", "kafka-streams", path="routes.r.destination.kind")
    assert "'kafka-streams' is provided by kete-kafka, but kete-kafka 0.1.0 does not have it" in str(caught.value)
    assert "pip install --upgrade kete-kafka" in str(caught.value)


def test_a_kind_its_installed_distribution_does_not_ship_yet(monkeypatch):
    monkeypatch.setitem(discovery.KNOWN_PROVIDERS, ("sink", "kafka-streams"), "kete-kafka")
    monkeypatch.setattr(discovery, "NOT_YET", discovery.NOT_YET | {("sink", "kafka-streams")})
    with pytest.raises(PluginError) as caught:
        discovery.load("sink", "kafka-streams", path="routes.r.destination.kind")
    message = str(caught.value)
    assert (
        "'kafka-streams' is planned for kete-kafka, which does not provide it yet (kete-kafka 0.1.0 is installed)"
        in message
    )
    assert "pip install" not in message


def test_kinds_not_shipped_yet_are_not_installed_and_their_distribution_is():
    installed = {(kind, item.name) for kind in ("sink", "serializer") for item in discovery.installed(kind)}
    assert not discovery.NOT_YET & installed, "a kind that landed must leave discovery.NOT_YET"
    assert all(discovery.KETE_KINDS[kind] not in discovery.PLANNED for kind in discovery.NOT_YET)


def test_a_kind_kete_does_not_know_still_gets_a_suggestion(tmp_path):
    result = check(tmp_path, 'destination.kind = "mqtt5"\n')
    assert "did you mean 'mqtt-5'?" in result.stderr


def test_only_distributions_of_this_project_are_offered_for_pip_install():
    # A "pip install X" hint for a name no plugin here ships would fetch whatever else holds X.
    root = Path(__file__).resolve().parents[1]
    shipped = {"kete-core"} | {path.name for path in (root / "plugins").iterdir() if (path / "pyproject.toml").exists()}
    named = {provider for provider in discovery.KNOWN_PROVIDERS.values() if provider is not None}
    assert named - discovery.PLANNED <= shipped
    assert not discovery.PLANNED & shipped
