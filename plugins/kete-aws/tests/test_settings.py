"""KETE's settings of the AWS kinds: required keys, region resolution, FIFO rules and the
authentication-type cross-checks, reported by ``kete check`` with their config paths."""

from __future__ import annotations

import base64

import pytest

from kete_core import ConfigErrors
from kete_core.testing import run_kete
from kete_core.testing.contracts import build_sink

BASE = {"region": "eu-west-1", "account-id": "111122223333"}


def _errors(kind: str, settings: dict) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        build_sink(kind, settings)
    return [f"{error.path}: {error.message}" for error in caught.value.errors]


def test_the_queue_url_and_topic_arn_are_ketes():
    sqs = build_sink("aws-sqs", {**BASE, "queue": "q"})
    assert sqs.url_base == "https://sqs.eu-west-1.amazonaws.com/111122223333/"
    china = build_sink("aws-sqs", {**BASE, "region": "cn-north-1", "queue": "q"})
    assert china.url_base == "https://sqs.cn-north-1.amazonaws.com.cn/111122223333/"
    emulator = build_sink("aws-sqs", {"region": "eu-west-1", "endpoint-url": "http://127.0.0.1:4566/", "queue": "q"})
    assert emulator.url_base == "http://127.0.0.1:4566/000000000000/"
    sns = build_sink("aws-sns", {**BASE, "topic": "t"})
    assert sns.arn_prefix == "arn:aws:sns:eu-west-1:111122223333:"


def test_the_region_comes_from_the_setting_then_aws_region_then_aws_default_region(monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    assert _errors("aws-kinesis", {"stream": "s", "partition-key": "k"}) == [
        "routes.contract.destination.region: is required: set 'region' or the AWS_REGION / AWS_DEFAULT_REGION variable"
    ]
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert build_sink("aws-kinesis", {"stream": "s", "partition-key": "k"}).region == "us-west-2"
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    assert build_sink("aws-kinesis", {"stream": "s", "partition-key": "k"}).region == "ap-south-1"


def test_fifo_rules_and_the_account_id_are_checked_as_kete_does():
    assert _errors("aws-sqs", {"region": "eu-west-1", "queue": "q.fifo"}) == [
        "routes.contract.destination.account-id: is required when connecting to AWS itself ('endpoint-url' is not set)",
        "routes.contract.destination.message-group-id: is required: queue 'q.fifo' is a FIFO queue",
    ]
    assert _errors("aws-sns", {**BASE, "topic": "t", "message-group-id": "${realmLowerCase}"}) == [
        "routes.contract.destination.message-group-id: is set but topic 't' does not end in '.fifo'"
    ]
    many = {f"a{n}": "v" for n in range(8)}
    assert _errors("aws-sqs", {**BASE, "queue": "q", "attributes": many}) == [
        "routes.contract.destination.attributes: at most 7 attributes and headers: AWS allows 10 and kete sets 3"
    ]


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            {
                "authentication-type": "access-key",
                "access-key-id": "AKID",
                "secret-access-key": "s",
                "credentials-file-path": "/x",
            },
            ["credentials-file-path: cannot be set when authentication-type is 'access-key'"],
        ),
        (
            {"authentication-type": "access-key", "access-key-id": "AKID"},
            [
                "access-key-id: 'access-key-id' and 'secret-access-key' must both be set or both be omitted",
            ],
        ),
        (
            {"authentication-type": "access-key"},
            ["access-key-id: is required when authentication-type is 'access-key'"],
        ),
        (
            {"authentication-type": "default-credentials-chain", "access-key-id": "AKID", "secret-access-key": "s"},
            [
                "access-key-id: cannot be set when authentication-type is 'default-credentials-chain'",
                "secret-access-key: cannot be set when authentication-type is 'default-credentials-chain'",
            ],
        ),
        (
            {"authentication-type": "credentials-file-text", "credentials-file-base64": "eA=="},
            [
                "credentials-file-base64: cannot be set when authentication-type is 'credentials-file-text'",
                "credentials-file-text: is required when authentication-type is 'credentials-file-text'",
            ],
        ),
        (
            {"access-key-id": "AKID", "secret-access-key": "s"},
            [
                "access-key-id: is set but 'authentication-type' is not (requests go unsigned)",
                "secret-access-key: is set but 'authentication-type' is not (requests go unsigned)",
            ],
        ),
    ],
)
def test_credential_settings_that_do_not_belong_to_the_type_are_refused(settings, expected):
    errors = _errors(
        "aws-eventbridge", {"region": "eu-west-1", "event-bus": "b", "source": "s", "detail-type": "d", **settings}
    )
    assert errors == [f"routes.contract.destination.{line}" for line in expected]


def test_container_credentials_need_the_agents_variable(monkeypatch):
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    [error] = _errors("aws-sqs", {**BASE, "queue": "q", "authentication-type": "container-credentials"})
    assert "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" in error


def test_another_kinds_keys_are_refused_as_kete_does():
    errors = _errors_any("aws-sqs", {**BASE, "queue": "q", "topic": "t", "partition-key": "k"})
    assert "topic" in errors and "partition-key" in errors


def _errors_any(kind: str, settings: dict) -> str:
    with pytest.raises(Exception) as caught:
        build_sink(kind, settings)
    return str(caught.value)


def test_kete_check_reports_every_problem_with_its_path(tmp_path):
    config = tmp_path / "kete.properties"
    config.write_text(
        "kete.routes.orders.destination.kind=aws-sqs\n"
        "kete.routes.orders.destination.region=eu-west-1\n"
        "kete.routes.orders.destination.queue=orders.fifo\n"
        "kete.routes.orders.destination.authentication-type=environment-variables\n"
        "kete.routes.orders.destination.secret-access-key=do-not-echo\n"
    )
    result = run_kete("check", str(config))
    assert result.returncode == 2, result.stderr
    assert "routes.orders.destination.account-id" in result.stderr
    assert "routes.orders.destination.message-group-id" in result.stderr
    assert "routes.orders.destination.secret-access-key: cannot be set" in result.stderr
    assert "do-not-echo" not in result.stderr


def test_a_credentials_file_needs_its_profile(tmp_path):
    from kete_aws.credentials import CredentialsError, session_for
    from kete_aws.settings import AwsSettings

    text = "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = one\n[ops]\naws_access_key_id = AKIDOPS\naws_secret_access_key = two\naws_session_token = tok\n"
    encoded = base64.b64encode(text.encode()).decode()
    settings = AwsSettings.model_validate(
        {
            "authentication-type": "credentials-file-base64",
            "credentials-file-base64": encoded,
            "credentials-profile": "ops",
        }
    )
    credentials = session_for(settings)._credentials
    assert (credentials.access_key, credentials.secret_key, credentials.token) == ("AKIDOPS", "two", "tok")
    path = tmp_path / "credentials"
    path.write_text(text)
    settings = AwsSettings.model_validate(
        {
            "authentication-type": "credentials-file-path",
            "credentials-file-path": str(path),
            "credentials-profile": "dev",
        }
    )
    with pytest.raises(
        CredentialsError, match=r"no profile \[dev\] in the credentials file \(profiles: default, ops\)"
    ):
        session_for(settings)
