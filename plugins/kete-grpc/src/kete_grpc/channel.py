"""The gRPC channel of a kete sink: its credentials from KETE's ``tls.*`` material, its options and its
user agent. The ``grpc`` sink uses it, and so does any plugin whose sink speaks gRPC (kete-gcp's Cloud
Tasks), so that every gRPC destination connects, reconnects and describes failures the same way.
"""

from __future__ import annotations

from typing import Any

import grpc
import grpc.aio

from kete_core import TlsMaterial, redact

DOWN = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
"""The statuses that say the server as a whole is unreachable or too slow, not just for one call."""

# gRPC's own reconnection backoff grows to two minutes; kete paces its retries itself, so a server back
# up is found within seconds.
_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.initial_reconnect_backoff_ms", 500),
    ("grpc.max_reconnect_backoff_ms", 5000),
]


def _pem(text: str | None) -> bytes | None:
    return text.encode() if text is not None else None


def tls_credentials(material: TlsMaterial) -> grpc.ChannelCredentials:
    """Channel credentials trusting *material*'s CAs (the system's too) and presenting its client
    certificate, when it has one."""
    return grpc.ssl_channel_credentials(
        root_certificates=_pem(material.ca_pem()),
        private_key=_pem(material.private_key_pem()),
        certificate_chain=_pem(material.certificate_pem()),
    )


def open_channel(target: str, credentials: grpc.ChannelCredentials | None, user_agent: str) -> grpc.aio.Channel:
    """A channel to *target* (``host:port``): plaintext when *credentials* is None, else TLS with them."""
    options = [*_OPTIONS, ("grpc.primary_user_agent", user_agent)]
    if credentials is None:
        return grpc.aio.insecure_channel(target, options=options)
    return grpc.aio.secure_channel(target, credentials, options=options)


def describe(name: str, exc: grpc.aio.AioRpcError) -> str:
    """``<name>: gRPC <STATUS>: <details>``, with secrets redacted: the text of a failed call."""
    return redact(f"{name}: gRPC {exc.code().name}: {exc.details() or 'no details'}")
