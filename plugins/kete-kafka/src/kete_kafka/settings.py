"""The Kafka sink's and source's settings (:class:`KafkaSinkConfig`, :class:`KafkaSourceConfig`), and
turning them into librdkafka settings.

The settings of a Kafka sink (``destination.*``) or source (``[sources.<name>]``) that kete does
not define itself are client settings. They arrive as a nested tree (``bootstrap.servers`` is
``{"bootstrap": {"servers": ...}}``), are flattened back to librdkafka's dotted names, and the
settings of KETE configurations written for the Java client are translated: ``sasl.jaas.config``
becomes ``sasl.username``/``sasl.password``, ``buffer.memory`` becomes
``queue.buffering.max.kbytes``, the String/ByteArray (de)serializers are dropped, and the ``tls.*``
block and the Java client's ``ssl.truststore.*``/``ssl.keystore.*`` (read by kete's TLS facility, so
JKS stores work) become ``ssl.*``. What has no librdkafka equivalent is an error, never ignored.
Finally librdkafka itself checks every name and value: a client is created (not connected) with
the settings, so an unknown name, a bad value or a setting of the other client role (a consumer
setting on the producer) is reported at load, naming the setting.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from confluent_kafka import Consumer, KafkaException, Producer
from pydantic import ConfigDict, Field, model_validator

from kete_core import (
    CommaList,
    ComponentConfig,
    ConfigError,
    ConfigErrors,
    Duration,
    EncodingSettings,
    TlsSettings,
    flatten,
    is_secret,
    load_tls,
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


_TLS_ORIGIN = {
    "ssl.ca.pem": "tls.trust-store",
    "ssl.certificate.pem": "tls.key-store",
    "ssl.key.pem": "tls.key-store",
    "ssl.endpoint.identification.algorithm": "tls.verify-hostname",
    "enable.ssl.certificate.verification": "tls.verify",
    "security.protocol": "tls.enabled",
}


def tls_settings(tls: TlsSettings, user: Mapping[str, str]) -> tuple[dict[str, str], list[Problem]]:
    """The ``ssl.*`` settings (and ``security.protocol``) that a ``tls`` block means.

    kete's TLS facility reads the stores (any of KETE's 11 loader kinds); librdkafka gets their PEM text:
    the trusted certificates with the system's CAs added (``ssl.ca.pem``), the client's certificate chain
    (``ssl.certificate.pem``) and its key, decrypted (``ssl.key.pem``). ``tls.version = TLSv1.2`` cannot be
    enforced by librdkafka, which negotiates TLS 1.2 or 1.3.
    """
    out: dict[str, str] = {}
    problems: list[Problem] = []
    try:
        material = load_tls(tls, "tls")
    except ConfigErrors as exc:
        problems += [Problem(error.path or "tls", error.message, error.hint) for error in exc.errors]
    else:
        ca = material.ca_pem()
        if ca is not None:
            out["ssl.ca.pem"] = ca
        certificate, key = material.certificate_pem(), material.private_key_pem()
        if certificate is not None and key is not None:
            out["ssl.certificate.pem"] = certificate
            out["ssl.key.pem"] = key
    if not tls.enabled:
        return {}, problems
    protocol = user.get("security.protocol", "").strip().upper()
    if protocol in ("PLAINTEXT", "SASL_PLAINTEXT"):
        problems.append(
            Problem("security.protocol", f"'{protocol}' contradicts tls.enabled = true", "use SSL or SASL_SSL")
        )
    elif not protocol:
        uses_sasl = any(name.startswith("sasl.") for name in user)
        out["security.protocol"] = "SASL_SSL" if uses_sasl else "SSL"
    out["ssl.endpoint.identification.algorithm"] = "https" if tls.verify_hostname else "none"
    if not tls.verify:
        out["enable.ssl.certificate.verification"] = "false"
    return out, problems


# --------------------------------------------------------------------------- Java client settings


# The Java client's key and trust stores (JKS by default there, PKCS#12 or PEM by type), read by kete's
# TLS facility; Java setting → where the facility's errors name it.
_JAVA_STORE_ERRORS = {
    "tls.trust-store.password": "ssl.truststore.password",
    "tls.trust-store": "ssl.truststore.location",
    "tls.key-store.password": "ssl.keystore.password",
    "tls.key-store.key-password": "ssl.key.password",
    "tls.key-store": "ssl.keystore.location",
}


def _java_store(flat: Mapping[str, str], prefix: str) -> dict[str, Any]:
    kind = "pem-file-path" if flat.get(f"{prefix}.type", "").strip().upper() == "PEM" else "jks-file-path"
    store: dict[str, Any] = {"loader": {"kind": kind, "path": flat[f"{prefix}.location"]}}
    if f"{prefix}.password" in flat:
        store["password"] = flat[f"{prefix}.password"]
    return store


def java_stores(flat: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str], list[Problem], set[str]]:
    """The Java client's ``ssl.truststore.*`` and ``ssl.keystore.*`` (JKS, PKCS#12 or PEM files) as librdkafka's
    ``ssl.ca.pem``, ``ssl.certificate.pem`` and ``ssl.key.pem``, read as the ``tls.*`` stores are.

    :returns: (librdkafka settings, librdkafka name → the Java setting, problems, the Java settings consumed)
    """
    stores: dict[str, Any] = {}
    consumed: set[str] = set()
    problems: list[Problem] = []
    for prefix, store in (("ssl.truststore", "trust-store"), ("ssl.keystore", "key-store")):
        names = {name for name in flat if name.startswith(f"{prefix}.")}
        if f"{prefix}.location" in flat:
            stores[store] = _java_store(flat, prefix)
        elif f"{prefix}.type" in names or prefix == "ssl.truststore":
            problems += [Problem(name, f"needs {prefix}.location") for name in sorted(names)]
        else:
            continue
        consumed |= names
    if "key-store" in stores and "ssl.key.password" in flat and "ssl.key.location" not in flat:
        stores["key-store"]["key-password"] = flat["ssl.key.password"]
        consumed.add("ssl.key.password")
    if not stores:
        return {}, {}, problems, consumed
    try:
        material = load_tls(TlsSettings.model_validate(stores), "tls")
    except (ConfigErrors, ValueError) as exc:
        errors = exc.errors if isinstance(exc, ConfigErrors) else [ConfigError(str(exc))]
        for error in errors:
            where = error.path or ""
            setting = next((java for tls, java in _JAVA_STORE_ERRORS.items() if where.startswith(tls)), where)
            problems.append(Problem(setting, error.message, error.hint))
        return {}, {}, problems, consumed
    out: dict[str, str] = {}
    origin: dict[str, str] = {}
    ca = material.ca_pem()
    if ca is not None:
        out["ssl.ca.pem"], origin["ssl.ca.pem"] = ca, "ssl.truststore.location"
    certificate, key = material.certificate_pem(), material.private_key_pem()
    if certificate is not None and key is not None:
        out["ssl.certificate.pem"], origin["ssl.certificate.pem"] = certificate, "ssl.keystore.location"
        out["ssl.key.pem"], origin["ssl.key.pem"] = key, "ssl.keystore.location"
    return out, origin, problems, consumed


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

    java, java_origin, found, consumed = java_stores(flat)
    problems += found
    for name, value in java.items():
        put(name, value, java_origin[name])
    for name, value in flat.items():
        if name in consumed:
            continue
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
                origin.setdefault(new, _TLS_ORIGIN.get(new, "tls"))
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
