"""The settings of the ``zeromq`` sink: the original KETE's keys and defaults (``ZeroMQDestinationConfig``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from kete_core import ComponentConfig, Duration, EncodingSettings, Lowercase


def _upper(value: Any) -> Any:
    # KETE reads socket-type and connection-mode trimmed and upper-cased.
    return value.strip().upper() if isinstance(value, str) else value


Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"


def z85_key(text: str, setting: str) -> bytes:
    """The 32-byte CURVE key of its 40-character Z85 text; ``ValueError`` naming *setting* otherwise."""
    text = text.strip()
    if len(text) != 40:
        raise ValueError(f"curve.{setting}: a Z85-encoded key has 40 characters, not {len(text)}")
    out = bytearray()
    for start in range(0, 40, 5):
        value = 0
        for char in text[start : start + 5]:
            index = Z85.find(char)
            if index < 0:
                raise ValueError(f"curve.{setting}: {char!r} is not a Z85 character")
            value = value * 85 + index
        if value > 0xFFFFFFFF:
            raise ValueError(f"curve.{setting}: not a valid Z85 key")
        out += value.to_bytes(4, "big")
    return bytes(out)


class CurveSettings(ComponentConfig):
    """``curve.*``: the server's public key and this client's key pair (CurveZMQ)."""

    loader: dict[str, str] = {}
    """``loader.kind``: ``z85-inline`` (the keys themselves), ``z85-file-path`` or ``binary-file-path`` (files)."""
    server_key: str = ""
    public_key: str = ""
    secret_key: str = ""

    def keys(self) -> tuple[bytes, bytes, bytes]:
        """The server's public key, the client's public key and its secret key (32 bytes each); ``ValueError``
        naming the setting at fault."""
        kind = self.loader.get("kind", "").strip().lower()
        if kind not in ("z85-inline", "z85-file-path", "binary-file-path"):
            raise ValueError(
                "curve.loader.kind: must be one of z85-inline, z85-file-path, binary-file-path"
                + (f", not {kind!r}" if kind else " (it is required when authentication-type is 'curve')")
            )
        keys = []
        for setting in ("server-key", "public-key", "secret-key"):
            value = getattr(self, setting.replace("-", "_")).strip()
            if not value:
                raise ValueError(f"curve.{setting}: required when authentication-type is 'curve'")
            if kind == "z85-inline":
                keys.append(z85_key(value, setting))
                continue
            try:
                data = Path(value).read_bytes()
            except OSError as exc:
                raise ValueError(f"curve.{setting}: cannot read {value}: {exc.strerror}") from None
            if kind == "z85-file-path":
                keys.append(z85_key(data.decode("ascii", "replace"), setting))
            elif len(data) != 32:
                raise ValueError(f"curve.{setting}: {value} holds {len(data)} bytes; a binary key has 32")
            else:
                keys.append(data)
        return keys[0], keys[1], keys[2]


class ZeroMqSinkConfig(EncodingSettings):
    """Settings of the ``zeromq`` sink (``destination.*``)."""

    endpoint: str = Field(min_length=1)
    """Where to bind or connect: ``tcp://host:port``, ``tcp://*:port``, ``ipc:///path``."""
    socket_type: Annotated[Literal["PUBLISH", "PUSH"], BeforeValidator(_upper)] = "PUBLISH"
    """``PUBLISH`` (a PUB socket: every subscriber gets each event) or ``PUSH`` (round robin over PULL peers)."""
    connection_mode: Annotated[Literal["CONNECT", "BIND"], BeforeValidator(_upper)] = "CONNECT"
    """``CONNECT`` to a peer that binds, or ``BIND`` and let peers connect."""
    linger: int = Field(default=1000, ge=-1)
    """Milliseconds queued messages may still take to go out at close; -1 waits for ever, 0 drops them."""
    envelope: str = ""
    """PUBLISH only: a first frame before the payload, a template; subscribers filter on its prefix."""
    send_high_water_mark: int = Field(default=1000, ge=0)
    """Messages the socket queues per peer at most (ZMQ_SNDHWM; 0: no limit)."""
    send_timeout_seconds: Duration = Field(default=10.0, gt=0)
    """PUSH: how long a send may wait for a peer to take it before the destination counts as unavailable."""
    authentication_type: Annotated[Literal["curve"] | None, Lowercase] = None
    """``curve``: CurveZMQ encryption and authentication with the ``curve.*`` keys."""
    curve: CurveSettings = CurveSettings()
    headers: dict[str, str] = {}
    """Accepted from KETE configurations; ZeroMQ messages have no headers, so they are not sent."""
    tls: dict[str, Any] = {}
    """Accepted from KETE configurations; ZeroMQ has no TLS (use ``authentication-type = "curve"``)."""
    pool: dict[str, Any] = {}
    """KETE's destination pool settings: accepted; kete keeps one socket per route."""

    @model_validator(mode="before")
    @classmethod
    def _blank_authentication(cls, data: Any) -> Any:
        # KETE reads a blank authentication-type as none.
        blank = isinstance(data, dict) and str(data.get("authentication-type", "x")).strip() == ""
        return {**data, "authentication-type": None} if blank else data

    @model_validator(mode="after")
    def _envelope_for_publish_only(self) -> ZeroMqSinkConfig:
        if self.envelope.strip() and self.socket_type != "PUBLISH":
            raise ValueError("envelope is only valid for socket-type PUBLISH")
        return self
