"""The local stack runs real Kafka, schema registry and ClickHouse, and says so honestly."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from pathlib import Path

import clickhouse_connect
import httpx
import pytest
from click.testing import CliRunner
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ConfigResource,
    NewTopic,
    ResourcePatternType,
    ResourceType,
)

from bus.kafka import librdkafka_config
from ops.stack.cli import stack as stack_cli
from ops.stack.errors import MissingToolError, StackError
from ops.stack.manager import StackManager
from ops.stack.ports import isolated_settings
from ops.stack.process import is_alive
from ops.stack.registry_auth import registry_user_info
from ops.stack.settings import ADMIN, StackSettings
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

CCOMPAT_JSON = {"Content-Type": "application/vnd.schemaregistry.v1+json"}


def _login(settings: StackSettings) -> dict[str, str | int | float | bool]:
    """Raw client properties of the stack's admin (a super user: these tests check Kafka itself)."""
    return librdkafka_config(settings.kafka_client(ADMIN))


def _quiet_manager(settings: StackSettings) -> tuple[StackManager, list[str]]:
    lines: list[str] = []
    return StackManager(settings, echo=lines.append), lines


def _pids(manager: StackManager) -> dict[str, int | None]:
    return {row.name: row.pid for row in manager.status()}


def _new_topic(settings: StackSettings, partitions: int = 1, config: dict[str, str] | None = None) -> str:
    name = f"test.{uuid.uuid4().hex[:10]}"
    admin = AdminClient(_login(settings))
    admin.create_topics([NewTopic(name, partitions, 1, config=config or {})])[name].result(timeout=30)
    return name


def _read_all(settings: StackSettings, topic: str, **extra: str) -> list[tuple[bytes | None, bytes | None]]:
    """Every record of partition 0, from the beginning until a quiet second."""
    consumer = Consumer(
        {
            **_login(settings),
            "group.id": f"reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            **extra,
        }
    )
    records: list[tuple[bytes | None, bytes | None]] = []
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        deadline = time.monotonic() + 15
        idle_since = time.monotonic()
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None:
                if records and time.monotonic() - idle_since > 1.0:
                    break
                continue
            if msg.error():
                continue  # e.g. partition EOF
            records.append((msg.key(), msg.value()))
            idle_since = time.monotonic()
    finally:
        consumer.close()
    return records


# --- lifecycle ----------------------------------------------------------------------


def test_second_up_is_a_noop_that_reports_already_running(stack: StackSettings) -> None:
    manager, lines = _quiet_manager(stack)
    before = _pids(manager)

    manager.up()

    assert _pids(manager) == before
    for name, pid in before.items():
        assert f"{name}: already running (pid {pid})" in lines


def test_status_reports_each_service_healthy_with_version_and_address(stack: StackSettings) -> None:
    manager, _ = _quiet_manager(stack)

    rows = {row.name: row for row in manager.status()}

    assert set(rows) == {"kafka", "registry", "clickhouse"}
    assert all(row.healthy and row.pid is not None for row in rows.values()), rows
    assert rows["kafka"].address == stack.kafka_bootstrap
    assert rows["kafka"].version is not None and rows["kafka"].version.startswith("4.")
    assert rows["registry"].address == stack.registry_url
    assert rows["registry"].version
    assert rows["clickhouse"].address == stack.clickhouse_url
    assert rows["clickhouse"].version is not None and rows["clickhouse"].version.startswith("26.")


def test_status_command_prints_a_table_and_exits_zero_when_all_healthy(stack: StackSettings) -> None:
    result = CliRunner().invoke(stack_cli, ["status"], obj=stack)

    assert result.exit_code == 0, result.output
    assert "SERVICE" in result.output and "HEALTH" in result.output
    assert stack.kafka_bootstrap in result.output


def test_status_command_exits_nonzero_for_a_stack_that_is_not_running(tmp_path: Path) -> None:
    result = CliRunner().invoke(stack_cli, ["status"], obj=isolated_settings(tmp_path / "idle"))

    assert result.exit_code == 1
    assert result.output.count("down") == 3


def test_killed_service_is_reported_down_and_up_brings_it_back(stack: StackSettings) -> None:
    manager, lines = _quiet_manager(stack)
    victim = next(row for row in manager.status() if row.name == "clickhouse")
    assert victim.pid is not None

    os.kill(victim.pid, signal.SIGKILL)  # the pid this session's stack started
    wait_for(lambda: not is_alive(victim.pid), 10, "clickhouse to die")

    down = next(row for row in manager.status() if row.name == "clickhouse")
    assert not down.healthy
    assert down.pid is None
    assert down.detail.startswith("down (stale pid file")

    manager.up()

    back = next(row for row in manager.status() if row.name == "clickhouse")
    assert back.healthy and back.pid is not None and back.pid != victim.pid
    assert any("removing stale pid file" in line for line in lines)


def test_up_names_the_missing_tool_and_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    manager, _ = _quiet_manager(isolated_settings(tmp_path / "no-java"))

    with pytest.raises(MissingToolError, match=r"java not found on PATH.*apt-get install openjdk-17"):
        manager.up(only=["kafka"])


def test_up_refuses_a_registry_database_of_an_older_major_version_and_says_what_to_do(
    tmp_path: Path,
) -> None:
    settings = isolated_settings(tmp_path / "old-registry")
    old = settings.dir / "registry"
    old.mkdir(parents=True)
    (old / "registry.mv.db").write_bytes(b"H2 database written by Apicurio Registry 2.6")
    manager, _ = _quiet_manager(settings)

    with pytest.raises(StackError, match=r"written by Apicurio Registry 2\.x.*fresh stack"):
        manager.up(only=["registry"])
    assert not (settings.dir / "registry.pid").exists(), "the registry was started on the old database"


# --- Kafka --------------------------------------------------------------------------


def test_kafka_transactional_producer_commit_is_visible_to_read_committed(stack: StackSettings) -> None:
    topic = _new_topic(stack)
    producer = Producer(
        {
            **_login(stack),
            "enable.idempotence": True,
            "acks": "all",
            "transactional.id": f"test-tx-{uuid.uuid4().hex}",
        }
    )
    producer.init_transactions(30)
    producer.begin_transaction()
    for i in range(3):
        producer.produce(topic, key=b"perf-1", value=f"sold-{i}".encode())
    producer.commit_transaction(30)

    records = _read_all(stack, topic, **{"isolation.level": "read_committed"})

    assert [value for _, value in records] == [b"sold-0", b"sold-1", b"sold-2"]


def test_kafka_compacted_topic_keeps_its_policy_and_compacts(stack: StackSettings) -> None:
    topic = _new_topic(
        stack,
        config={
            "cleanup.policy": "compact",
            "segment.ms": "100",
            "min.cleanable.dirty.ratio": "0.01",
            "min.compaction.lag.ms": "0",
        },
    )
    admin = AdminClient(_login(stack))
    resource = ConfigResource(ResourceType.TOPIC, topic)
    described = admin.describe_configs([resource])[resource].result(timeout=30)
    assert described["cleanup.policy"].value == "compact"

    producer = Producer({**_login(stack), "acks": "all"})
    for i in range(20):
        producer.produce(topic, key=b"perf-1", value=f"seats-left-{i}".encode())
        producer.flush(10)
        time.sleep(0.12)  # let segments roll so the cleaner has closed segments to compact

    deadline = time.monotonic() + 60
    records = _read_all(stack, topic)
    while len(records) >= 10 and time.monotonic() < deadline:
        producer.produce(topic, key=b"tick", value=b"roll")  # rolls the active segment
        producer.flush(10)
        time.sleep(1)
        records = _read_all(stack, topic)

    latest = [value for key, value in records if key == b"perf-1"]
    assert len(records) < 10, f"not compacted within 60s: {len(records)} records"
    assert latest[-1] == b"seats-left-19"


def test_kafka_consumer_group_commits_offsets_that_read_back(stack: StackSettings) -> None:
    topic = _new_topic(stack)
    producer = Producer({**_login(stack), "acks": "all"})
    for i in range(5):
        producer.produce(topic, value=f"scan-{i}".encode())
    assert producer.flush(10) == 0

    group = f"test-group-{uuid.uuid4().hex[:8]}"
    consumer = Consumer(
        {
            **_login(stack),
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe([topic])
        seen = 0
        deadline = time.monotonic() + 30
        while seen < 5 and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            seen += 1
        assert seen == 5
        consumer.commit(asynchronous=False)
        committed = consumer.committed([TopicPartition(topic, 0)], timeout=10)
    finally:
        consumer.close()

    assert committed[0].offset == 5
    reader = Consumer({**_login(stack), "group.id": group})
    try:
        again = reader.committed([TopicPartition(topic, 0)], timeout=10)
    finally:
        reader.close()
    assert again[0].offset == 5


def test_kafka_refuses_to_auto_create_topics(stack: StackSettings) -> None:
    producer = Producer(
        {**_login(stack), "message.timeout.ms": 3000, "acks": "all"}
    )
    errors: list[str] = []
    producer.produce(
        f"never.created.{uuid.uuid4().hex[:6]}",
        value=b"x",
        on_delivery=lambda err, _msg: errors.append(str(err)) if err else None,
    )
    producer.flush(10)

    assert errors, "a record to a missing topic was accepted"


def test_kafka_has_an_authorizer_that_stores_and_removes_acls(stack: StackSettings) -> None:
    """ACL-capable: a later SASL/SCRAM profile grants per-principal rights on this broker."""
    admin = AdminClient(_login(stack))
    topic = f"acl.test.{uuid.uuid4().hex[:6]}"
    principal = f"User:vendor-{uuid.uuid4().hex[:6]}"
    binding = AclBinding(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, principal, "*",
                         AclOperation.WRITE, AclPermissionType.ALLOW)
    match = AclBindingFilter(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, principal, None,
                             AclOperation.ANY, AclPermissionType.ANY)
    try:
        admin.create_acls([binding])[binding].result(timeout=15)
        # KRaft applies an ACL change through the metadata log: a describe right after the
        # create may not list it yet (the same wait ops/access/acls.py makes)
        wait_for(lambda: [(b.name, b.principal, b.operation) for b in admin.describe_acls(match).result(
            timeout=15)] == [(topic, principal, AclOperation.WRITE)], 15, "the created ACL to be listed")
    finally:
        removed = admin.delete_acls([match])[match].result(timeout=15)
    assert len(removed) == 1
    # ... and a describe right after the delete may still list it for a moment
    wait_for(lambda: admin.describe_acls(match).result(timeout=15) == [], 15, "the deleted ACL to be gone")


# --- ClickHouse ---------------------------------------------------------------------


def test_clickhouse_connect_creates_inserts_and_selects_over_http(stack: StackSettings) -> None:
    client = clickhouse_connect.get_client(host="127.0.0.1", port=stack.clickhouse_http_port)
    table = f"sales_{uuid.uuid4().hex[:8]}"
    client.command(
        f"CREATE TABLE {table} (performance String, sold UInt32) ENGINE = MergeTree ORDER BY performance"
    )
    client.insert(table, [["NL-23-1234-5|1", 3], ["NL-23-1234-5|2", 7]], column_names=["performance", "sold"])

    rows = client.query(f"SELECT performance, sold FROM {table} ORDER BY performance").result_rows

    assert rows == [("NL-23-1234-5|1", 3), ("NL-23-1234-5|2", 7)]
    assert client.server_version.startswith("26.")


# --- schema registry ----------------------------------------------------------------


def _registry_auth(stack: StackSettings) -> tuple[str, str]:
    """The test observer's registry login (the registry refuses anonymous callers)."""
    user, _, password = registry_user_info(stack.dir, ADMIN).partition(":")
    return user, password


def _avro(fields: list[dict[str, object]]) -> str:
    return json.dumps({"type": "record", "name": "TicketSold", "namespace": "test", "fields": fields})


def test_registry_global_compatibility_reads_back_backward(stack: StackSettings) -> None:
    config = httpx.get(f"{stack.registry_url}/config", auth=_registry_auth(stack), timeout=10)

    assert config.status_code == 200
    assert config.json().get("compatibilityLevel") == "BACKWARD"


def test_registry_rejects_a_backward_incompatible_change_with_409(stack: StackSettings) -> None:
    subject = f"test.{uuid.uuid4().hex[:8]}-value"
    url = f"{stack.registry_url}/subjects/{subject}/versions"
    v1 = [{"name": "performance", "type": "string"}]

    auth = _registry_auth(stack)
    first = httpx.post(url, json={"schema": _avro(v1)}, headers=CCOMPAT_JSON, auth=auth, timeout=10)
    required_added = httpx.post(
        url, json={"schema": _avro([*v1, {"name": "seats", "type": "int"}])}, headers=CCOMPAT_JSON,
        auth=auth, timeout=10
    )
    default_added = httpx.post(
        url,
        json={"schema": _avro([*v1, {"name": "seats", "type": "int", "default": 1}])},
        headers=CCOMPAT_JSON,
        auth=auth,
        timeout=10,
    )

    assert first.status_code == 200 and "id" in first.json()
    assert required_added.status_code == 409, required_added.text
    assert default_added.status_code == 200, default_added.text


# --- restart: runs last, it stops and starts the whole session stack ----------------


@pytest.mark.slow
def test_data_survives_stack_down_and_up(stack: StackSettings) -> None:
    client = clickhouse_connect.get_client(host="127.0.0.1", port=stack.clickhouse_http_port)
    table = f"kept_{uuid.uuid4().hex[:8]}"
    client.command(f"CREATE TABLE {table} (id UInt32) ENGINE = MergeTree ORDER BY id")
    client.insert(table, [[1], [2], [3]], column_names=["id"])
    client.close()
    subject = f"test.{uuid.uuid4().hex[:8]}-value"
    registered = httpx.post(
        f"{stack.registry_url}/subjects/{subject}/versions",
        json={"schema": _avro([{"name": "performance", "type": "string"}])},
        headers=CCOMPAT_JSON,
        auth=_registry_auth(stack),
        timeout=10,
    )
    assert registered.status_code == 200
    topic = _new_topic(stack)
    producer = Producer({**_login(stack), "acks": "all"})
    producer.produce(topic, value=b"kept")
    assert producer.flush(10) == 0

    manager, _ = _quiet_manager(stack)
    manager.down()
    assert all(not row.healthy and row.pid is None for row in manager.status())
    manager.up()

    client = clickhouse_connect.get_client(host="127.0.0.1", port=stack.clickhouse_http_port)
    assert client.query(f"SELECT count() FROM {table}").result_rows == [(3,)]
    subjects = httpx.get(f"{stack.registry_url}/subjects", auth=_registry_auth(stack), timeout=10).json()
    assert subject in subjects
    assert [value for _, value in _read_all(stack, topic)] == [b"kept"]
