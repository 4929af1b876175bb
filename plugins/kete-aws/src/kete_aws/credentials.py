"""KETE's ``authentication-type`` values, as botocore credential providers on an aiobotocore session.

Unset means unsigned requests (KETE's anonymous credentials, for emulators). Each other type uses
exactly the provider it names, never the whole default chain (except ``default-credentials-chain``),
so that credentials from somewhere unexpected never sign a request.
"""

from __future__ import annotations

import base64
import binascii
import configparser
import os
from pathlib import Path

from aiobotocore.credentials import (
    AioContainerProvider,
    AioCredentialResolver,
    AioEnvProvider,
    create_credential_resolver,
)
from aiobotocore.session import AioSession

from kete_aws.settings import AwsSettings

# Provider names (botocore's ``METHOD``) inside the default chain.
_CHAIN_PROVIDERS = {"instance-metadata": "iam-role", "web-identity-token": "assume-role-with-web-identity"}


class CredentialsError(ValueError):
    """A credentials file or profile kete cannot use; the message names the setting."""


def _profile(settings: AwsSettings) -> str:
    for value in (settings.credentials_profile, os.environ.get("AWS_PROFILE")):
        if value and value.strip():
            return value.strip()
    return "default"


def _file_text(settings: AwsSettings) -> tuple[str, str]:
    kind = settings.authentication_type
    if kind == "credentials-file-path":
        path = (settings.credentials_file_path or "").strip()
        try:
            return Path(path).read_text(encoding="utf-8"), kind
        except OSError as exc:
            raise CredentialsError(f"credentials-file-path: cannot read {path!r}: {exc.strerror}") from None
    if kind == "credentials-file-text":
        assert settings.credentials_file_text is not None
        return settings.credentials_file_text.get_secret_value(), kind
    assert settings.credentials_file_base64 is not None
    try:
        return base64.b64decode(settings.credentials_file_base64.get_secret_value(), validate=True).decode(), kind
    except (binascii.Error, UnicodeDecodeError):
        raise CredentialsError("credentials-file-base64: not Base64 of a UTF-8 credentials file") from None


def _from_file(settings: AwsSettings) -> tuple[str, str, str | None]:
    text, setting = _file_text(settings)
    parser = configparser.RawConfigParser()
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        raise CredentialsError(f"{setting}: not an AWS credentials file ({type(exc).__name__})") from None
    profile = _profile(settings)
    if not parser.has_section(profile):
        known = ", ".join(parser.sections()) or "none"
        raise CredentialsError(f"{setting}: no profile [{profile}] in the credentials file (profiles: {known})")
    section = parser[profile]
    key, secret = section.get("aws_access_key_id"), section.get("aws_secret_access_key")
    if not key or not secret:
        raise CredentialsError(f"{setting}: profile [{profile}] lacks aws_access_key_id or aws_secret_access_key")
    return key.strip(), secret.strip(), (section.get("aws_session_token") or "").strip() or None


def session_for(settings: AwsSettings) -> AioSession:
    """A session whose credentials are the ones *settings* name (see the module documentation);
    for unsigned requests, the client is built with ``signature_version=UNSIGNED`` instead.

    :raises CredentialsError: a credentials file, text or profile that cannot be used.
    """
    session = AioSession()
    kind = settings.authentication_type
    if kind in ("access-key", "credentials-file-path", "credentials-file-text", "credentials-file-base64"):
        if kind == "access-key":
            assert settings.access_key_id is not None and settings.secret_access_key is not None
            token = settings.session_token.get_secret_value() if settings.session_token else None
            key, secret = settings.access_key_id.strip(), settings.secret_access_key.get_secret_value().strip()
        else:
            key, secret, token = _from_file(settings)
        session.set_credentials(key, secret, token)
    elif kind == "environment-variables":
        session.register_component("credential_provider", AioCredentialResolver([AioEnvProvider()]))
    elif kind == "container-credentials":
        session.register_component("credential_provider", AioCredentialResolver([AioContainerProvider()]))
    elif kind in _CHAIN_PROVIDERS:
        provider = create_credential_resolver(session).get_provider(_CHAIN_PROVIDERS[kind])
        session.register_component("credential_provider", AioCredentialResolver([provider]))
    # default-credentials-chain: the session's own chain, as the AWS CLI resolves it.
    return session
