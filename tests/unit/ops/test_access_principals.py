"""The broker's security configuration and the role principals' grants, as rendered."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka.admin import AclOperation, ResourcePatternType, ResourceType

from bus.settings import Settings
from bus.topics import FACTS, TICKET_EVENTS
from ops.access.principals import (
    CONNECTOR,
    GATEWAY,
    LAG_EXPORTER,
    OPS,
    ROLE_PRINCIPALS,
    SINK,
    STREAMS,
    role_bindings,
)
from ops.stack.errors import StackError
from ops.stack.kafka import KafkaService, render_server_properties
from ops.stack.settings import StackSettings

PREFIX = "t1."


def _props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_the_sasl_profile_takes_scram_on_the_client_listener_and_plain_on_the_controller(tmp_path: Path) -> None:
    props = _props(render_server_properties(StackSettings(dir=tmp_path), tmp_path / "data"))
    assert props["listeners"].startswith("SASL_PLAINTEXT://127.0.0.1:9092,CONTROLLER://")
    assert props["listener.security.protocol.map"] == "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"
    assert props["inter.broker.listener.name"] == "SASL_PLAINTEXT"
    assert props["listener.name.sasl_plaintext.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["sasl.mechanism.inter.broker.protocol"] == "SCRAM-SHA-512"
    assert props["listener.name.controller.sasl.enabled.mechanisms"] == "PLAIN"
    assert props["sasl.mechanism.controller.protocol"] == "PLAIN"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:admin;User:controller"
    assert 'username="admin"' in props["listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config"]
    assert 'user_controller="' in props["listener.name.controller.plain.sasl.jaas.config"]


def test_the_plaintext_profile_enforces_nothing(tmp_path: Path) -> None:
    text = render_server_properties(StackSettings(dir=tmp_path, kafka_security="plaintext"), tmp_path)
    props = _props(text)
    assert props["listener.security.protocol.map"] == "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    assert props["allow.everyone.if.no.acl.found"] == "true"
    assert not any(k.startswith("sasl.") or ".sasl." in k for k in props)


def test_data_formatted_under_another_profile_is_refused_with_what_to_remove(tmp_path: Path) -> None:
    settings = StackSettings(dir=tmp_path)
    svc = KafkaService(settings, tmp_path, tmp_path / "downloads")
    svc.data_dir.mkdir(parents=True)
    (svc.data_dir / "meta.properties").write_text("formatted\n")  # before profiles: plaintext
    with pytest.raises(StackError) as err:
        svc._check_profile()
    assert "'plaintext'" in str(err.value) and str(svc.work_dir) in str(err.value)
    svc.profile_marker.write_text("sasl\n")
    svc._check_profile()  # the same profile is fine


def _grants(principal: str, settings: Settings | None = None) -> set[tuple[str, str, str, str]]:
    return {(b.restype.name, b.name, b.resource_pattern_type.name, b.operation.name)
            for b in role_bindings(PREFIX, settings or Settings(), [principal])}


def test_the_gateway_reads_availability_and_offers_and_writes_no_fact() -> None:
    got = _grants(GATEWAY)
    assert ("TOPIC", "t1.participation.availability", "LITERAL", "READ") in got
    assert ("TOPIC", "t1.access.tenants", "LITERAL", "READ") in got
    assert not [g for g in got if g[1] in (PREFIX + FACTS, PREFIX + TICKET_EVENTS)]
    assert not [g for g in got if g[3] == "WRITE" and not g[1].endswith(".dlq")]


def test_streams_owns_its_app_id_group_and_internal_topics_per_prefix() -> None:
    got = _grants(STREAMS)
    assert ("GROUP", "cultuurbus-streams-t1", "LITERAL", "READ") in got
    assert ("TOPIC", "cultuurbus-streams-t1-", "PREFIXED", "CREATE") in got
    assert ("TOPIC", "t1.ingest.", "PREFIXED", "READ") in got
    assert ("TOPIC", "t1.ticketing.events", "LITERAL", "WRITE") not in got
    assert ("TOPIC", "t1.ticketing.events.dlq", "LITERAL", "WRITE") in got


def test_the_sink_group_follows_its_settings() -> None:
    settings = Settings(sink={"group_id": "sink-x"})
    assert ("GROUP", "sink-x", "LITERAL", "READ") in _grants(SINK, settings)


def test_only_ops_may_alter_acls_and_credentials() -> None:
    cluster = [(p, b.operation) for p in ROLE_PRINCIPALS for b in role_bindings(PREFIX, Settings(), [p])
               if b.restype == ResourceType.BROKER]
    assert sorted(cluster) == [(OPS, AclOperation.ALTER), (OPS, AclOperation.DESCRIBE)]
    lag = role_bindings(PREFIX, Settings(), [LAG_EXPORTER])
    assert {b.operation for b in lag if b.name == "*"} == {AclOperation.DESCRIBE}
    assert all(b.resource_pattern_type in (ResourcePatternType.LITERAL, ResourcePatternType.PREFIXED)
               for b in role_bindings(PREFIX, Settings()))
    assert ("TOPIC", "t1.connect.positions", "LITERAL", "WRITE") in _grants(CONNECTOR)
