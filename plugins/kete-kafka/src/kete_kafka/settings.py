"""The Kafka sink's and source's settings (:class:`KafkaSinkConfig`, :class:`KafkaSourceConfig`), and
turning them into librdkafka settings.

The settings of a Kafka sink (``destination.*``) or source (``[sources.<name>]``) that kete does
not define itself are client settings. They arrive as a nested tree (``bootstrap.servers`` is
``{"bootstrap": {"servers": ...}}``), are flattened back to librdkafka's dotted names, and the
settings of KETE configurations written for the Java client are translated: ``sasl.jaas.config``
becomes ``sasl.username``/``sasl.password``, ``buffer.memory`` becomes
``queue.buffering.max.kbytes``, the String/ByteArray (de)serializers are dropped, and kete's
``tls.*`` block becomes ``ssl.*``. What has no librdkafka equivalent is an error, never ignored.
Finally librdkafka itself checks every name and value: a client is created (not connected) with
the settings, so an unknown name, a bad value or a setting of the other client role (a consumer
setting on the producer) is reported at load, naming the setting.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from confluent_kafka import Consumer, KafkaException, Producer
from pydantic import BeforeValidator, ConfigDict, Field, SecretStr, model_validator

from kete_core import (
    CommaList,
    ComponentConfig,
    ConfigError,
    ConfigErrors,
    Duration,
    EncodingSettings,
    flatten,
    is_secret,
)

Role = Literal["producer", "consumer"]

LEGAL_TOPIC = re.compile(r"[a-zA-Z0-9._-]{1,249}")


def topic_problem(name: str) -> str | None:
    """Why *name* is not a legal Kafka topic name (Kafka's ``Topic.validate``), or None."""
    if not name:
        return "the topic name is empty"
    if name in (".", ".."):
        return f"'{name}' is not allowed as a topic name"
    if len(name) > 249:
        return f"the topic name is {len(name)} characters long; Kafka allows at most 249"
    if not LEGAL_TOPIC.fullmatch(name):
        bad = sorted({char for char in name if not LEGAL_TOPIC.fullmatch(char)})
        return f"the topic name contains {', '.join(repr(char) for char in bad)}; Kafka allows only [a-zA-Z0-9._-]"
    return None


@dataclass(frozen=True)
class Problem:
    """One bad setting: its name (relative to the component's table), what is wrong, a hint."""

    setting: str
    message: str
    hint: str | None = None


def raise_problems(problems: list[Problem], path: str) -> None:
    """Raise every problem at once as :class:`ConfigErrors` under config path *path*."""
    if problems:
        raise ConfigErrors(
            ConfigError(
                problem.message, path=f"{path}.{problem.setting}" if problem.setting else path, hint=problem.hint
            )
            for problem in problems
        )


# --------------------------------------------------------------------------- TLS (kete/KETE ``tls.*``)


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


LoaderKind = Annotated[
    Literal[
        "pem-file-path", "pem-file-text", "pem-file-base64", "der-file-path", "der-file-base64",
        "pkcs12-file-path", "pkcs12-file-base64", "jks-file-path", "jks-file-base64",
        "pkcs7-file-path", "pkcs7-file-base64",
    ],
    BeforeValidator(_lower),
]  # fmt: skip


class LoaderSettings(ComponentConfig):
    """``tls.trust-store.loader.*`` / ``tls.key-store.loader.*``: where certificate material comes from."""

    kind: LoaderKind
    path: str | None = None
    text: SecretStr | None = None
    base64: SecretStr | None = None


class StoreSettings(ComponentConfig):
    """``tls.trust-store.*`` / ``tls.key-store.*``, as the original KETE names them."""

    loader: LoaderSettings
    password: SecretStr | None = None
    key_password: SecretStr | None = None
    type: str | None = None
    trust_manager_algorithm: str | None = None
    key_manager_algorithm: str | None = None


class TlsSettings(ComponentConfig):
    """``tls.*``: the original KETE's TLS block, translated to librdkafka's ``ssl.*``.

    ``verify-hostname`` defaults to true here (KETE's default was false), as in kete's HTTP sink.
    """

    enabled: bool = False
    version: Annotated[Literal["tls", "tlsv1.2", "tlsv1.3"], BeforeValidator(_lower)] = "tls"
    verify_hostname: bool = True
    trust_store: StoreSettings | None = None
    key_store: StoreSettings | None = None


_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----", re.DOTALL)


def _material(loader: LoaderSettings, where: str) -> bytes | Problem:
    """The bytes a ``*-text``/``*-base64``/``*-path`` loader names."""
    source = loader.kind.rsplit("-", 1)[1]
    value = getattr(loader, source)
    if value is None:
        return Problem(f"{where}.{source}", f"certificate loader '{loader.kind}' needs '{source}'")
    if source == "path":
        try:
            return Path(value).read_bytes()
        except OSError as exc:
            return Problem(f"{where}.path", f"cannot read {value}: {exc.strerror or exc}")
    secret = value.get_secret_value()
    if source == "text":
        return secret.encode()
    try:
        return base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError):
        return Problem(f"{where}.base64", "not valid base64")


def _der_to_pem(der: bytes) -> str:
    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"


_UNSUPPORTED_STORES = {
    "jks": "librdkafka (OpenSSL) cannot read Java key stores; convert it to PEM "
    "(keytool -importkeystore -deststoretype PKCS12, then openssl pkcs12 -nodes) and use 'pem-file-path'",
    "pkcs7": "librdkafka cannot read PKCS#7 bundles; convert it (openssl pkcs7 -print_certs) and use 'pem-file-path'",
}


def _trust_store(store: StoreSettings, out: dict[str, str], problems: list[Problem]) -> None:
    where = "tls.trust-store.loader"
    family = store.loader.kind.split("-", 1)[0]
    if family in _UNSUPPORTED_STORES:
        problems.append(
            Problem(f"{where}.kind", f"loader '{store.loader.kind}' is not supported", _UNSUPPORTED_STORES[family])
        )
        return
    if family == "pkcs12":
        problems.append(
            Problem(
                f"{where}.kind",
                "librdkafka cannot read a PKCS#12 trust store",
                "convert it (openssl pkcs12 -in trust.p12 -nokeys -out ca.pem) and use 'pem-file-path'",
            )
        )
        return
    if store.loader.kind == "pem-file-path" and store.loader.path is not None:
        out["ssl.ca.location"] = store.loader.path
        return
    material = _material(store.loader, where)
    if isinstance(material, Problem):
        problems.append(material)
    elif family == "der":
        out["ssl.ca.pem"] = _der_to_pem(material)
    else:
        out["ssl.ca.pem"] = material.decode("ascii", errors="replace")


def _key_store(store: StoreSettings, out: dict[str, str], problems: list[Problem]) -> None:
    where = "tls.key-store.loader"
    kind = store.loader.kind
    family = kind.split("-", 1)[0]
    if family in _UNSUPPORTED_STORES or family == "der":
        hint = _UNSUPPORTED_STORES.get(family, "a key store holds a key and its certificate; use PEM or PKCS#12")
        problems.append(Problem(f"{where}.kind", f"loader '{kind}' is not supported for a key store", hint))
        return
    password = store.key_password or store.password
    if family == "pkcs12":
        if kind != "pkcs12-file-path" or store.loader.path is None:
            problems.append(
                Problem(
                    f"{where}.kind", "librdkafka reads PKCS#12 key stores from a file only", "use 'pkcs12-file-path'"
                )
            )
            return
        out["ssl.keystore.location"] = store.loader.path
        if store.password is not None:
            out["ssl.keystore.password"] = store.password.get_secret_value()
        return
    material = _material(store.loader, where)
    if isinstance(material, Problem):
        problems.append(material)
        return
    certificates = [block.group(0) for block in _PEM_BLOCK.finditer(material) if block.group(1) == b"CERTIFICATE"]
    keys = [block.group(0) for block in _PEM_BLOCK.finditer(material) if block.group(1).endswith(b"PRIVATE KEY")]
    if not certificates or len(keys) != 1:
        problems.append(
            Problem(
                where,
                f"the key store must hold one private key and its certificate(s) in PEM; found {len(keys)} key(s) "
                f"and {len(certificates)} certificate(s)",
            )
        )
        return
    out["ssl.certificate.pem"] = b"\n".join(certificates).decode("ascii")
    out["ssl.key.pem"] = keys[0].decode("ascii")
    if password is not None:
        out["ssl.key.password"] = password.get_secret_value()


_TLS_ORIGIN = {
    "ca": "tls.trust-store",
    "certificate": "tls.key-store",
    "key": "tls.key-store",
    "keystore": "tls.key-store",
    "endpoint": "tls.verify-hostname",
    "protocol": "tls.enabled",
}


def tls_settings(tls: TlsSettings, user: Mapping[str, str]) -> tuple[dict[str, str], list[Problem]]:
    """The ``ssl.*`` settings (and ``security.protocol``) that a ``tls`` block means."""
    out: dict[str, str] = {}
    problems: list[Problem] = []
    for name, store in (("trust-store", tls.trust_store), ("key-store", tls.key_store)):
        if store is None:
            continue
        for setting in ("trust-manager-algorithm", "key-manager-algorithm"):
            if getattr(store, setting.replace("-", "_")) is not None:
                problems.append(
                    Problem(f"tls.{name}.{setting}", "a JVM setting with no librdkafka equivalent", "remove it")
                )
        family = store.loader.kind.split("-", 1)[0]
        if store.type is not None and store.type.strip().lower() not in (family, "pem" if family == "der" else family):
            problems.append(
                Problem(f"tls.{name}.type", f"type '{store.type}' does not match loader '{store.loader.kind}'")
            )
    if tls.trust_store is not None:
        _trust_store(tls.trust_store, out, problems)
    if tls.key_store is not None:
        _key_store(tls.key_store, out, problems)
    if not tls.enabled:
        return {}, problems
    if tls.version == "tlsv1.3":
        problems.append(
            Problem(
                "tls.version",
                "librdkafka cannot require TLS 1.3 (it negotiates TLS 1.2 or 1.3)",
                "use 'TLS' or 'TLSv1.2'",
            )
        )
    protocol = user.get("security.protocol", "").strip().upper()
    if protocol in ("PLAINTEXT", "SASL_PLAINTEXT"):
        problems.append(
            Problem("security.protocol", f"'{protocol}' contradicts tls.enabled = true", "use SSL or SASL_SSL")
        )
    elif not protocol:
        uses_sasl = any(name.startswith("sasl.") for name in user)
        out["security.protocol"] = "SASL_SSL" if uses_sasl else "SSL"
    out["ssl.endpoint.identification.algorithm"] = "https" if tls.verify_hostname else "none"
    return out, problems


# --------------------------------------------------------------------------- Java client settings


_JAAS_MODULE = re.compile(r"^\s*([\w.$]+)\s+(required|requisite|sufficient|optional)\b(.*?);?\s*$", re.DOTALL)
_JAAS_OPTION = re.compile(r'(\w[\w.-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;"]+))')
_SERIALIZER_PACKAGE = re.compile(
    r"^([\w$]+\.)*(StringSerializer|ByteArraySerializer|StringDeserializer|ByteArrayDeserializer)$"
)


def _jaas(value: str, settings: Mapping[str, str]) -> tuple[dict[str, str], Problem | None]:
    """``sasl.jaas.config`` with the PLAIN or SCRAM login module → ``sasl.username``/``sasl.password``."""
    match = _JAAS_MODULE.match(value)
    if match is None:
        return {}, Problem(
            "sasl.jaas.config", "cannot read this JAAS configuration (expected '<LoginModule> required k=\"v\";')"
        )
    module = match.group(1).rsplit(".", 1)[-1]
    options = {
        found.group(1): found.group(2) if found.group(2) is not None else found.group(3)
        for found in _JAAS_OPTION.finditer(match.group(3))
    }
    options = {name: re.sub(r"\\(.)", r"\1", text) for name, text in options.items()}
    if module not in ("ScramLoginModule", "PlainLoginModule"):
        return {}, Problem(
            "sasl.jaas.config",
            f"login module '{module}' cannot be translated for librdkafka",
            "for OAUTHBEARER or GSSAPI use librdkafka's sasl.oauthbearer.* or sasl.kerberos.* settings",
        )
    if "username" not in options or "password" not in options:
        return {}, Problem("sasl.jaas.config", f'{module} needs username="..." and password="..."')
    out = {"sasl.username": options["username"], "sasl.password": options["password"]}
    mechanism = (settings.get("sasl.mechanism") or settings.get("sasl.mechanisms") or "").strip().upper()
    if module == "PlainLoginModule":
        if mechanism not in ("", "PLAIN"):
            return {}, Problem("sasl.jaas.config", f"PlainLoginModule does not match sasl.mechanism '{mechanism}'")
        out["sasl.mechanism"] = "PLAIN"
    elif not mechanism.startswith("SCRAM-"):
        return {}, Problem(
            "sasl.jaas.config",
            "ScramLoginModule needs sasl.mechanism SCRAM-SHA-256 or SCRAM-SHA-512",
            "set sasl.mechanism",
        )
    return out, None


def _java_serializer(name: str, value: str) -> tuple[dict[str, str], Problem | None]:
    if _SERIALIZER_PACKAGE.match(value.strip()):
        return {}, None
    return {}, Problem(
        name,
        f"'{value}' cannot be used: kete sends the serializer's bytes as the value and a UTF-8 string as the key",
        "remove it (kete's own serializer is routes.<route>.serializer.kind)",
    )


def _buffer_memory(value: str) -> tuple[dict[str, str], Problem | None]:
    try:
        size = int(value)
    except ValueError:
        return {}, Problem("buffer.memory", "must be a number of bytes")
    if size <= 0:
        return {}, Problem("buffer.memory", "must be positive")
    return {"queue.buffering.max.kbytes": str(max(1, size // 1024))}, None


def _renamed(new: str) -> Callable[[str], tuple[dict[str, str], Problem | None]]:
    return lambda value: ({new: value}, None)


def _no_equivalent(hint: str) -> Callable[[str], tuple[dict[str, str], Problem | None]]:
    return lambda value: ({}, Problem("", f"a Java client setting with no librdkafka equivalent; {hint}"))


# Java client settings whose names librdkafka does not know (names it shares, such as acks,
# linger.ms, batch.size or delivery.timeout.ms, pass through as they are).
_JAVA_RENAMED: dict[str, Callable[[str], tuple[dict[str, str], Problem | None]]] = {
    "buffer.memory": _buffer_memory,
    "max.request.size": _renamed("message.max.bytes"),
    "send.buffer.bytes": _renamed("socket.send.buffer.bytes"),
    "receive.buffer.bytes": _renamed("socket.receive.buffer.bytes"),
    "max.block.ms": _no_equivalent("librdkafka never blocks a send (kete waits while its queue is full); remove it"),
    "partitioner.class": _no_equivalent(
        "use librdkafka's 'partitioner' (kete's default, murmur2_random, places keys as the Java client does)"
    ),
    "ssl.protocol": _no_equivalent("librdkafka negotiates TLS 1.2 or 1.3; remove it"),
    "ssl.enabled.protocols": _no_equivalent("librdkafka negotiates TLS 1.2 or 1.3; remove it"),
    "ssl.truststore.location": _no_equivalent(
        "librdkafka reads PEM trust stores: use ssl.ca.location, or tls.trust-store.loader.*"
    ),
    "ssl.truststore.password": _no_equivalent("librdkafka reads PEM trust stores, which have no password"),
    "ssl.truststore.type": _no_equivalent("librdkafka reads PEM trust stores: use ssl.ca.location"),
    "ssl.keystore.type": _no_equivalent(
        "ssl.keystore.location is a PKCS#12 file; for PEM use ssl.certificate.location"
    ),
    "max.poll.records": _no_equivalent("use the source's batch-size"),
}

PLUGIN_SETTINGS_HINT = "see the kete-kafka README for the settings kete translates from the Java client"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    return str(value)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


_ROLE_WARNING = re.compile(r"Configuration property (\S+) is an? (consumer|producer|admin) property")


# librdkafka names some settings by their other name in its messages.
_ALIASES = {
    "request.required.acks": "acks",
    "compression.codec": "compression.type",
    "max.in.flight.requests.per.connection": "max.in.flight",
    "max.in.flight": "max.in.flight.requests.per.connection",
    "queue.buffering.max.ms": "linger.ms",
    "message.timeout.ms": "delivery.timeout.ms",
    "sasl.mechanisms": "sasl.mechanism",
    "message.send.max.retries": "retries",
    "metadata.broker.list": "bootstrap.servers",
}
_NAMED = (
    re.compile(r'No such configuration property: "([^"]+)"'),
    re.compile(r'configuration property "([^"]+)"'),
    re.compile(r"([a-z][a-z0-9.]+) failed:"),
)


def set_default(settings: dict[str, str], name: str, value: str) -> None:
    """Set *name* unless it or one of its librdkafka aliases (``delivery.timeout.ms`` for
    ``message.timeout.ms``) is set already."""
    if not any(alias in settings for alias in (name, *_aliases_of(name))):
        settings[name] = value


def _aliases_of(name: str) -> list[str]:
    return [other for other in (_ALIASES.get(name), *(a for a, real in _ALIASES.items() if real == name)) if other]


def _named(text: str, settings: Mapping[str, str]) -> str | None:
    """The setting of *settings* that librdkafka's message *text* is about, if it names one."""
    for pattern in _NAMED:
        found = pattern.search(text)
        if found:
            name = found.group(1)
            for candidate in (name, *_aliases_of(name)):
                if candidate in settings:
                    return candidate
    return None


def librdkafka_problems(role: Role, settings: Mapping[str, str], origin: Mapping[str, str]) -> list[Problem]:
    """Ask librdkafka about *settings* by creating (not connecting) a client with them.

    A failure names one setting; it is reported and left out, and the rest is tried again, so
    every bad setting is reported at once.

    :param origin: librdkafka name → the user's setting it came from, to name the right setting.
    """
    problems = []
    for name, value in settings.items():
        if name.endswith(".location") and value and not Path(value).exists():
            problems.append(Problem(origin.get(name, name), f"{value}: no such file"))
    if problems:
        return problems
    capture = _Capture()
    logger = logging.Logger("kete.kafka.check")
    logger.addHandler(capture)
    probe = {name: value for name, value in settings.items() if name != "bootstrap.servers"}
    while True:
        try:
            _create(role, {**probe, "logger": logger})
            break
        except KafkaException as exc:
            text = _redact(exc.args[0].str() if exc.args else str(exc), settings)
        name = _named(text, probe)
        if name is None:
            problems.append(Problem("", f"librdkafka rejects these settings: {text}", PLUGIN_SETTINGS_HINT))
            break
        setting = origin.get(name, name)
        if "No such configuration property" in text:
            problems.append(Problem(setting, f"'{name}' is not a librdkafka {role} setting", PLUGIN_SETTINGS_HINT))
        elif is_secret(name) or is_secret(setting):
            problems.append(Problem(setting, f"librdkafka rejects the value of '{name}'"))
        else:
            problems.append(Problem(setting, _redact(f"librdkafka rejects {name} = {probe[name]!r}: {text}", settings)))
        del probe[name]
    for message in dict.fromkeys(capture.messages):
        found = _ROLE_WARNING.search(message)
        if found:
            name = found.group(1)
            setting = next((origin[alias] for alias in (name, *_aliases_of(name)) if alias in origin), name)
            problems.append(
                Problem(
                    setting,
                    f"'{name}' is a Kafka {found.group(2)} setting; this {role} would ignore it",
                    "remove it",
                )
            )
    return problems


def _create(role: Role, config: dict[str, Any]) -> None:
    if role == "producer":
        producer = Producer(config)
        producer.poll(0)
    else:
        consumer = Consumer({"group.id": "kete-settings-check", **config})
        consumer.close()


def _redact(text: str, settings: Mapping[str, str]) -> str:
    for name, value in settings.items():
        if value and is_secret(name):
            text = text.replace(f'"{value}"', '"***"')
            if len(value) >= 6:
                text = text.replace(value, "***")
    return text


def client_settings(
    raw: Mapping[str, Any],
    *,
    role: Role,
    managed: Mapping[str, str],
    tls: TlsSettings | None,
) -> tuple[dict[str, str], dict[str, str], list[Problem]]:
    """Flatten and translate a component's client settings.

    :param raw: the settings kete does not define itself, as a tree.
    :param managed: librdkafka names kete sets itself → why they cannot be set.
    :returns: (librdkafka settings, librdkafka name → user setting name, problems)
    """
    flat = {name: _text(value) for name, value in flatten(raw).items() if value is not None}
    out: dict[str, str] = {}
    origin: dict[str, str] = {}
    problems: list[Problem] = []

    def put(name: str, value: str, setting: str) -> None:
        if name in out and origin[name] != setting:
            problems.append(Problem(setting, f"sets '{name}', which '{origin[name]}' sets too", "keep one of them"))
            return
        out[name] = value
        origin[name] = setting

    for name, value in flat.items():
        if name in managed:
            problems.append(Problem(name, managed[name]))
        elif name in ("key.serializer", "value.serializer", "key.deserializer", "value.deserializer"):
            problem = _java_serializer(name, value)[1]
            if problem is not None:
                problems.append(problem)
        elif name == "sasl.jaas.config":
            translated, problem = _jaas(value, flat)
            if problem is not None:
                problems.append(problem)
            for new, text in translated.items():
                if new == "sasl.mechanism" and ("sasl.mechanism" in flat or "sasl.mechanisms" in flat):
                    continue
                put(new, text, name)
        elif name in _JAVA_RENAMED:
            translated, problem = _JAVA_RENAMED[name](value)
            if problem is not None:
                problems.append(Problem(problem.setting or name, problem.message, problem.hint))
            for new, text in translated.items():
                put(new, text, name)
        elif name == "ssl.endpoint.identification.algorithm" and not value.strip():
            put(name, "none", name)  # the Java client's way of switching the check off
        else:
            put(name, value, name)
    if tls is not None:
        translated, found = tls_settings(tls, out)
        problems += found
        for new, text in translated.items():
            if new in out and out[new].strip().lower() != text.lower():
                problems.append(Problem(origin[new], f"contradicts the tls.* settings, which set {new} = {text}"))
            else:
                out.setdefault(new, text)
                origin.setdefault(new, _TLS_ORIGIN.get(new.split(".")[1] if "." in new else new, "tls"))
    if "bootstrap.servers" not in out:
        problems.append(Problem("bootstrap.servers", "required: the brokers to connect to (host:port,host:port)"))
    return out, origin, problems


# --------------------------------------------------------------------------- the components' settings


class KafkaSourceConfig(ComponentConfig):
    """Settings of the ``kafka`` source. Settings not listed here are librdkafka consumer settings
    (``bootstrap.servers`` and ``group.id`` are required)."""

    model_config = ConfigDict(extra="allow")

    topics: Annotated[CommaList, Field(min_length=1)]
    """Topics to read; a name starting with ``^`` is a regular expression."""
    realm_names: dict[str, str] = {}
    """Realm id → realm name, for events that carry only ``realmId``."""
    batch_size: int = Field(default=1000, gt=0)
    """Records taken at once (fewer when fewer are waiting)."""
    poll_timeout: Duration = Field(default=0.2, gt=0)
    """How long one poll waits for records; also how soon a stop is noticed."""
    max_in_flight: int = Field(default=32, gt=0)
    """Batches submitted but not yet delivered; beyond that, reading pauses."""
    commit_interval: Duration = 1.0
    """Commit delivered offsets at most this often (and always on a rebalance and at the end)."""
    revoke_timeout: Duration = 10.0
    """On a rebalance, how long revoked partitions wait for their in-flight events."""
    shutdown_timeout: Duration = 10.0
    """When stopping, how long to wait for in-flight events before committing what is done."""
    tls: TlsSettings | None = None
    """The original KETE's ``tls.*`` block, translated to librdkafka's ``ssl.*``."""


class KafkaSinkConfig(EncodingSettings):
    """Settings of the ``kafka`` sink. Settings not listed here are librdkafka producer settings.

    KETE's ``content-encoding`` and ``content-transfer-encoding`` are accepted and, as in KETE's
    kafka destination, not applied (librdkafka's ``compression.type`` compresses record batches)."""

    model_config = ConfigDict(extra="allow")

    topic: str
    """The topic, a template (``keycloak.${realmLowerCase}.${kindKebabCase}``)."""
    key: str | None = None
    """The record key, a template; default: the event type, as KETE; empty: no key."""
    headers: dict[str, str] = {}
    """Custom record headers, templates; ``eventkind``, ``eventtype`` and ``contenttype`` are kete's."""
    tls: TlsSettings | None = None
    """The original KETE's ``tls.*`` block, translated to librdkafka's ``ssl.*``."""
    pool: dict[str, Any] = {}
    """KETE's destination pool settings: accepted; kete uses one producer per route."""
    connect_timeout: Duration = Field(default=5.0, gt=0)
    """How long to wait for the cluster's metadata when checking that it is reachable."""
    java_key_settings: dict[str, Any] = Field(default={}, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _split_key(cls, data: Any) -> Any:
        # key.serializer arrives as {"key": {"serializer": ...}}, beside the key template.
        if isinstance(data, dict) and isinstance(data.get("key"), dict):
            data = dict(data)
            data["java_key_settings"] = data.pop("key")
        return data
