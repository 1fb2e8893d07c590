"""The local stack's Kafka refuses who it should: SASL/SCRAM logins, the authorizer's
deny-by-default, each role limited to its grants, ACL reconciling and credential removal."""

from __future__ import annotations

import logging
import shlex
import time
import uuid
from typing import Any

import pytest
from click.testing import CliRunner
from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka.admin import AclBinding, AclOperation, AdminClient

from bus.kafka import librdkafka_config, make_admin, make_consumer, make_producer, produce_acked
from bus.settings import KafkaSettings, Settings
from bus.topics import FACTS, TICKET_EVENTS, topic_name
from ops.access.acls import delete_scram, reconcile, upsert_scram
from ops.access.principals import GATEWAY, SINK, apply_role_access
from ops.stack.cli import stack as stack_cli
from ops.stack.settings import StackSettings

pytestmark = pytest.mark.integration
_QUIET = logging.getLogger("tests.kafka_security.refused")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


def _errors_of(conf: dict[str, Any], wait_s: float = 15.0) -> tuple[list[KafkaError], Exception | None]:
    """Connect with ``conf``; the client-level errors seen and what a metadata request raised."""
    seen: list[KafkaError] = []
    admin = AdminClient({**conf, "error_cb": seen.append, "socket.timeout.ms": 5000, "logger": _QUIET})
    raised: Exception | None = None
    try:
        admin.list_topics(timeout=wait_s)
    except KafkaException as exc:
        raised = exc
    admin.poll(1.0)  # serves error_cb
    return seen, raised


def _as(stack: StackSettings, principal: str) -> KafkaSettings:
    return stack.kafka_client(principal)


def test_a_wrong_password_is_refused_with_an_authentication_error(stack: StackSettings) -> None:
    conf = librdkafka_config(_as(stack, SINK))
    conf["sasl.password"] = "not-the-password"
    seen, raised = _errors_of(conf)
    assert raised is not None, "a wrong password must not get metadata"
    auth = [e for e in seen if e.code() == KafkaError._AUTHENTICATION]
    assert auth, f"expected an authentication error, got {seen}"
    assert "Authentication failed" in auth[0].str()


def test_a_plaintext_client_gets_nothing_from_the_sasl_port(stack: StackSettings) -> None:
    seen, raised = _errors_of({"bootstrap.servers": stack.kafka_bootstrap}, wait_s=8.0)
    assert raised is not None, "the SASL listener answered a PLAINTEXT client"


def test_the_gateway_may_neither_write_ticket_facts_nor_read_raw_facts(stack: StackSettings,
                                                                        topics: Settings) -> None:
    gateway = _as(stack, GATEWAY)
    delivered: list[KafkaError | None] = []
    producer = make_producer(gateway, message_timeout_ms=10_000)
    producer.produce(topic_name(TICKET_EVENTS, topics.topic_prefix), key=b"k", value=b"forged",
                     on_delivery=lambda err, _msg: delivered.append(err))
    producer.flush(20)
    assert delivered and delivered[0] is not None
    assert delivered[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED

    consumer = make_consumer(gateway, f"cultuurbus-gateway-{uuid.uuid4().hex[:6]}")
    try:
        consumer.subscribe([topic_name(FACTS, topics.topic_prefix)])
        errors = _poll_errors(consumer, 15.0)
    finally:
        consumer.close()
    assert KafkaError.TOPIC_AUTHORIZATION_FAILED in errors, errors


def test_a_command_whose_write_is_refused_says_so(stack: StackSettings, topics: Settings) -> None:
    # `cultuurbus identity accept` and `tenant add` write one record each; a refused write
    # ends flush() as promptly as an acknowledged one, so only the delivery report tells
    topic = topic_name(TICKET_EVENTS, topics.topic_prefix)
    error = produce_acked(_as(stack, GATEWAY), topic, b"k", b"decision", timeout=20)
    assert error is not None and "authorization" in error.lower(), error
    assert produce_acked(topics.kafka, topic, b"k", b"decision", timeout=20) is None


def _poll_errors(consumer: Consumer, seconds: float) -> list[int]:
    deadline, codes = time.monotonic() + seconds, []
    while time.monotonic() < deadline and not codes:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is not None:
            codes.append(msg.error().code())
    return codes


def test_the_sink_consumes_its_topics_in_its_group(stack: StackSettings, topics: Settings) -> None:
    topic = topic_name(FACTS, topics.topic_prefix)
    key = uuid.uuid4().hex.encode()
    producer = make_producer(topics.kafka)  # the test observer (admin) seeds
    producer.produce(topic, key=key, value=b"fact")
    assert producer.flush(20) == 0
    consumer = make_consumer(_as(stack, SINK), topics.sink.group_id)
    try:
        consumer.subscribe([topic])
        deadline, got = time.monotonic() + 30, None
        while time.monotonic() < deadline and got is None:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            if msg.key() == key:
                got = msg
        assert got is not None, "the sink principal did not receive the record"
        consumer.commit(got, asynchronous=False)  # committing needs READ on its group
    finally:
        consumer.close()


def _binding(principal: str, topic: str, op: AclOperation) -> AclBinding:
    return AclBinding("TOPIC", topic, "LITERAL", principal, "*", op, "ALLOW")


def test_reconcile_adds_and_removes_and_a_second_run_changes_nothing(topics: Settings) -> None:
    admin = make_admin(topics.kafka)
    user = f"User:test-{uuid.uuid4().hex[:6]}"
    topic = topic_name(FACTS, topics.topic_prefix)
    wanted = [_binding(user, topic, AclOperation.READ), _binding(user, topic, AclOperation.WRITE)]
    first = reconcile(admin, wanted, [user])
    assert [c.action for c in first] == ["added", "added"]
    assert f"added {user} ALLOW READ on TOPIC {topic}" in [str(c) for c in first]
    assert reconcile(admin, wanted, [user]) == []
    fewer = reconcile(admin, wanted[:1], [user])
    assert [(c.action, c.binding.operation) for c in fewer] == [("removed", AclOperation.WRITE)]
    assert reconcile(admin, [], [user])[0].action == "removed"
    # the role principals' grants for this session were applied by the fixture: nothing to do
    assert apply_role_access(admin, topics.topic_prefix, topics) == []


def test_a_principal_whose_credential_is_deleted_is_refused_within_seconds(stack: StackSettings,
                                                                            topics: Settings) -> None:
    admin = make_admin(topics.kafka)
    user, password = f"test-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    upsert_scram(admin, user, password)
    conf = librdkafka_config(_as(stack, SINK).model_copy(update={"sasl_username": user}))
    conf["sasl.password"] = password
    ok_deadline = time.monotonic() + 15
    while True:  # the new credential reaches the broker's cache within moments
        seen, raised = _errors_of(conf, wait_s=3.0)
        if raised is None:
            break
        assert time.monotonic() < ok_deadline, f"a fresh credential was never accepted: {seen}"
    assert delete_scram(admin, user) is True
    deleted_at = time.monotonic()
    while True:
        seen, raised = _errors_of(conf, wait_s=3.0)
        if raised is not None and any(e.code() == KafkaError._AUTHENTICATION for e in seen):
            break
        assert time.monotonic() - deleted_at < 10, "a deleted credential still logs in after 10 s"
    assert time.monotonic() - deleted_at < 10
    assert delete_scram(admin, user) is False  # already gone: nothing to do


def test_stack_env_prints_a_login_that_connects_as_that_role(stack: StackSettings) -> None:
    result = CliRunner().invoke(stack_cli, ["env", "--role", "sink"], obj=stack)
    assert result.exit_code == 0, result.output
    env = dict(shlex.split(line.removeprefix("export "))[0].split("=", 1)
               for line in result.output.splitlines())
    assert env["CULTUURBUS_KAFKA__SASL_USERNAME"] == SINK
    assert env["CULTUURBUS_KAFKA__SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    assert env["CULTUURBUS_REGISTRY__BASIC_AUTH_USER_INFO"].startswith(f"{SINK}:")
    kafka = KafkaSettings(bootstrap_servers=env["CULTUURBUS_KAFKA__BOOTSTRAP_SERVERS"],
                          security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-512",
                          sasl_username=env["CULTUURBUS_KAFKA__SASL_USERNAME"],
                          sasl_password=env["CULTUURBUS_KAFKA__SASL_PASSWORD"])  # type: ignore[arg-type]
    seen, raised = _errors_of(librdkafka_config(kafka))
    assert raised is None, seen
    props = stack.dir / "kafka" / "server.properties"
    assert props.stat().st_mode & 0o777 == 0o600  # it holds the admin's and controller's passwords
