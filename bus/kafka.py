"""Kafka client factories. ``librdkafka_config`` is the one place that renders
librdkafka's dotted keys from settings; no raw config dicts travel elsewhere.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import NamedTuple

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from bus.errors import ConfigError
from bus.settings import KafkaSettings

__all__ = ["SaslLogin", "consumer_config", "kafka_env", "librdkafka_config", "make_admin", "make_consumer",
           "make_producer", "produce_acked", "sasl_login"]

ConfigValue = str | int | float | bool

# librdkafka's own log lines ("Connect to ... failed", broker state changes) go through
# Python logging instead of straight to stderr, so they carry our structured format, can
# be filtered by level, and do not drown a process's output while a broker is away.
# They are served when the client is polled (every role polls).
KAFKA_LOGGER = logging.getLogger("cultuurbus.kafka")


class SaslLogin(NamedTuple):
    """Who a SASL client logs in as (every Kafka client library takes these three)."""

    mechanism: str
    username: str
    password: str


def sasl_login(kafka: KafkaSettings) -> SaslLogin | None:
    """The SASL login of these settings; None when the protocol is not SASL.

    Raises:
        ConfigError: the protocol is SASL but a field is missing.

    """
    if not kafka.security_protocol.startswith("SASL"):
        return None
    if not (kafka.sasl_mechanism and kafka.sasl_username and kafka.sasl_password):
        raise ConfigError(
            "kafka.security_protocol is SASL but sasl_mechanism, sasl_username or "
            "sasl_password is missing: set CULTUURBUS_KAFKA__SASL_MECHANISM, "
            "CULTUURBUS_KAFKA__SASL_USERNAME and CULTUURBUS_KAFKA__SASL_PASSWORD"
        )
    return SaslLogin(kafka.sasl_mechanism, kafka.sasl_username, kafka.sasl_password.get_secret_value())


def librdkafka_config(kafka: KafkaSettings, **extra: ConfigValue) -> dict[str, ConfigValue]:
    """Librdkafka properties for these settings; ``extra`` uses underscores for dots.

    ``librdkafka_config(k, linger_ms=5)`` sets ``linger.ms``.
    """
    conf: dict[str, ConfigValue] = {
        "bootstrap.servers": kafka.bootstrap_servers,
        "client.id": kafka.client_id,
        "security.protocol": kafka.security_protocol,
    }
    login = sasl_login(kafka)
    if login is not None:
        conf["sasl.mechanism"] = login.mechanism
        conf["sasl.username"] = login.username
        conf["sasl.password"] = login.password
    for key, value in extra.items():
        conf[key.replace("_", ".")] = value
    return conf


def _build(cls: type, conf: Mapping[str, ConfigValue], what: str):  # type: ignore[no-untyped-def]
    full: dict[str, object] = {**conf, "logger": KAFKA_LOGGER}
    try:
        return cls(full)
    except (KafkaException, ValueError, TypeError) as exc:
        raise ConfigError(f"invalid {what} configuration: {exc}; check the librdkafka "
                          "property names and values you passed") from exc


def make_producer(kafka: KafkaSettings, *, transactional_id: str | None = None,
                  **extra: ConfigValue) -> Producer:
    """An idempotent producer with ``acks=all``: a record is acknowledged only once
    every in-sync replica has it, and retries never duplicate or reorder.
    """
    conf = librdkafka_config(
        kafka,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        compression_type="lz4",
        # Java's and aiokafka's (Faust's) partitioner: a key lands on the same partition
        # whichever client produced it, which re-keyed topics rely on.
        partitioner="murmur2_random",
        message_timeout_ms=max(kafka.request_timeout_ms * 2, 60_000),
    )
    conf.update(librdkafka_config(kafka, **extra))
    if transactional_id:
        conf["transactional.id"] = transactional_id
    return _build(Producer, conf, "producer")


def produce_acked(kafka: KafkaSettings, topic: str, key: bytes, value: bytes | None, *,
                  headers: list[tuple[str, str | bytes | None]] | None = None,
                  timeout: float = 30.0) -> str | None:
    """Produce one record (a command's write: a tenant record, a person's decision) and
    wait for Kafka's answer: None once acknowledged (``acks=all``), else why not.

    ``flush()`` alone says only whether an answer came: a refused write (no ACL, no such
    topic) also ends the wait, its error reaching only the delivery callback.
    """
    producer = make_producer(kafka)
    errors: list[str] = []

    def done(err: object, _msg: object) -> None:
        if err is not None:
            errors.append(str(err))

    producer.produce(topic, key=key, value=value, headers=headers, on_delivery=done)
    if producer.flush(timeout):
        return f"not acknowledged within {timeout:g} s"
    return "; ".join(errors) or None


def consumer_config(kafka: KafkaSettings, group_id: str, **extra: ConfigValue) -> dict[str, ConfigValue]:
    """The librdkafka properties of :func:`make_consumer`."""
    conf = librdkafka_config(
        kafka,
        group_id=group_id,
        enable_auto_commit=False,
        enable_auto_offset_store=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    conf.update(librdkafka_config(kafka, **extra))
    conf["group.id"] = group_id
    return conf


def make_consumer(kafka: KafkaSettings, group_id: str, **extra: ConfigValue) -> Consumer:
    """A consumer in ``group_id`` that never auto-commits: callers store offsets only
    after their work is done, then commit.
    """
    return _build(Consumer, consumer_config(kafka, group_id, **extra), "consumer")


def make_admin(kafka: KafkaSettings, **extra: ConfigValue) -> AdminClient:
    """An admin client."""
    return _build(AdminClient, librdkafka_config(kafka, **extra), "admin client")


def kafka_env(kafka: KafkaSettings) -> dict[str, str]:
    """``CULTUURBUS_KAFKA__*`` variables that give a subprocess these connection settings
    (address, client id, and the SASL fields when the protocol is SASL)."""
    env = {
        "CULTUURBUS_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "CULTUURBUS_KAFKA__SECURITY_PROTOCOL": kafka.security_protocol,
    }
    login = sasl_login(kafka)
    if login is not None:
        env.update({"CULTUURBUS_KAFKA__SASL_MECHANISM": login.mechanism,
                    "CULTUURBUS_KAFKA__SASL_USERNAME": login.username,
                    "CULTUURBUS_KAFKA__SASL_PASSWORD": login.password})
    return env
