"""The mqtt sinks' settings as KETE reads them, checked by ``kete check`` and on the models; no broker."""

from __future__ import annotations

import textwrap

import pytest
from kete_mqtt.settings import Mqtt5SinkConfig, MqttSinkConfig
from kete_mqtt.sink import text_problem, topic_problem

from kete_core.testing import run_kete


def test_kete_defaults():
    config = MqttSinkConfig.model_validate({"host": " broker ", "topic": " t "})
    assert (config.host, config.topic, config.qos, config.retained, config.clean_session) == (
        "broker",
        "t",
        1,
        False,
        True,
    )
    assert (config.max_inflight, config.keep_alive_interval_seconds, config.connection_timeout_seconds) == (
        2048,
        60,
        10,
    )
    assert config.url == "tcp://broker:1883"


@pytest.mark.parametrize(
    ("settings", "url"),
    [
        ({}, "tcp://h:1883"),
        ({"tls": {"enabled": True}}, "ssl://h:8883"),
        ({"transport-type": "WebSocket"}, "ws://h:8000"),
        ({"transport-type": "websocket", "tls": {"enabled": True}}, "wss://h:443"),
        ({"port": "1884", "tls": {"enabled": True}}, "ssl://h:1884"),
    ],
)
def test_the_port_follows_the_transport_and_tls_as_in_kete(settings, url):
    assert Mqtt5SinkConfig.model_validate({"host": "h", "topic": "t", **settings}).url == url


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("qos = 3", "routes.r.destination.qos"),
        ('transport-type = "quic"', "routes.r.destination.transport-type"),
        ("max-inflight = 0", "routes.r.destination.max-inflight"),
        ('topic = "  "', "routes.r.destination.topic"),
        ('topic = "a/${noSuchVariable}"', "noSuchVariable"),
        ("qso = 1", "routes.r.destination.qso"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(line, expected, tmp_path):
    config = tmp_path / "kete.toml"
    config.write_text(
        textwrap.dedent("""
        [sources.s]
        kind = "file"
        path = "events.jsonl"
        [routes.r.destination]
        kind = "mqtt-5"
        host = "127.0.0.1"
        topic = "t"
        """)
        + line
        + "\n"
    )
    if line.startswith("topic"):
        config.write_text(config.read_text().replace('topic = "t"\n', ""))
    result = run_kete("check", str(config), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr


@pytest.mark.parametrize(
    ("topic", "problem"),
    [
        ("", "empty"),
        ("a/+/b", "wildcard"),
        ("a/#", "wildcard"),
        ("bad\x00realm", "control character"),
        ("line\nbreak", "control character"),
        ("a\x85b", "control character"),
        ("x" * 70000, "65535 bytes"),
    ],
)
def test_topics_brokers_refuse(topic, problem):
    found = topic_problem(topic)
    assert found is not None and problem in found


@pytest.mark.parametrize("topic", ["keycloak/acme/login", "a/b", "..", "Ünïcødé realm", "/leading/slash"])
def test_topics_brokers_take(topic):
    assert topic_problem(topic) is None


def test_unicode_non_characters_are_refused_in_strings():
    assert text_problem("a\ufffeb", "value") is not None
    assert text_problem("plain value", "value") is None
