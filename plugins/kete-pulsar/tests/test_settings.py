"""The pulsar sink's settings: KETE's keys and defaults, and bad settings refused with their path (no broker)."""

from __future__ import annotations

import pytest
from kete_pulsar.settings import PulsarSinkConfig
from kete_pulsar.sink import topic_problem

from kete_core import ConfigError
from kete_core.testing import build_sink


def test_kete_defaults():
    config = PulsarSinkConfig.model_validate({"service-url": "pulsar://pulsar:6650", "topic": "events"})
    assert config.compression_type == "LZ4"
    assert (config.send_timeout_seconds, config.operation_timeout_seconds, config.connection_timeout_seconds) == (
        30.0,
        30.0,
        10.0,
    )
    assert (config.max_pending_messages, config.block_if_queue_full) == (1000, True)
    assert not config.batching


def test_batching_is_opt_in_and_compression_any_case():
    config = PulsarSinkConfig.model_validate(
        {"service-url": "pulsar://p:6650", "topic": "t", "batching-max-messages": 10, "compression-type": "zstd"}
    )
    assert config.batching and config.compression_type == "ZSTD"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"authentication-type": "token"}, "token is required when authentication-type is 'token'"),
        ({"authentication-type": "basic"}, "username is required when authentication-type is 'basic'"),
        ({"authentication-type": "oauth"}, "oauth.token-url is required"),
        ({"compression-type": "brotli"}, "compression-type"),
        ({"max-pending-messages": 0}, "max-pending-messages"),
    ],
)
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        PulsarSinkConfig.model_validate({"service-url": "pulsar://p:6650", "topic": "t", **settings})


def test_tls_needs_a_pulsar_ssl_url_and_a_static_topic_must_be_a_pulsar_name():
    with pytest.raises(ConfigError, match="pulsar\\+ssl://"):
        build_sink("pulsar", {"service-url": "pulsar://p:6650", "topic": "t", "tls": {"enabled": True}})
    with pytest.raises(ConfigError, match="may not contain '/'"):
        build_sink("pulsar", {"service-url": "pulsar://p:6650", "topic": "persistent://a/b/c/d"})


@pytest.mark.parametrize(
    "topic", ["events", "tenant/ns/events", "persistent://public/default/keycloak-acme", "non-persistent://a/b/c"]
)
def test_pulsar_topic_names(topic):
    assert topic_problem(topic) is None


@pytest.mark.parametrize("topic", ["persistent://a/b/c/d", "a/b", "kafka://a/b/c", "persistent://a/b/", "x\n"])
def test_not_pulsar_topic_names(topic):
    assert topic_problem(topic) is not None
