"""`cultuurbus tenant` and `cultuurbus access apply` against the real broker: each tenant's
configuration file works, gives exactly what its kind is granted, and a revocation ends
one tenant's access within seconds while the others' traffic goes on, nothing lost."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from confluent_kafka import KafkaError, TopicPartition
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)
from pydantic import SecretStr

from bus.directory import read_directory
from bus.kafka import make_admin, make_consumer, make_producer
from bus.settings import Settings, load_settings
from bus.tenants import ingest_topic, new_secret
from bus.topics import AVAILABILITY, FACTS, topic_name
from ops.access.acls import delete_scram, describe, scram_users, upsert_scram
from ops.access.principals import OPS
from ops.catalog.grants import group_prefix
from ops.stack.registry_auth import registry_user_info
from ops.stack.settings import StackSettings
from ops.tenants.cli import access, tenant
from ops.tenants.service import access_apply
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

EVENTS = "ticketing.events"


def _run(group, settings: Settings, *args: str) -> str:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(group, list(args), obj=settings, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _add(settings: Settings, tmp_path: Path, kind: str, name: str, *opts: str) -> Settings:
    out = tmp_path / f"{name}.toml"
    _run(tenant, settings, "add", kind, name, *opts, "--out", str(out))
    assert out.stat().st_mode & 0o077 == 0, "a tenant's configuration must not be readable by others"
    return load_settings(out)


def _produce(settings: Settings, topic: str, n: int = 1) -> list[KafkaError | None]:
    results: list[KafkaError | None] = []
    producer = make_producer(settings.kafka, message_timeout_ms=10_000)
    for i in range(n):
        producer.produce(topic, key=b"k", value=f"v{i}".encode(),
                         on_delivery=lambda err, _m: results.append(err))
    producer.flush(30)
    return results


def _poll_error(settings: Settings, topic: str, group: str, wait_s: float = 15.0) -> int | None:
    consumer = make_consumer(settings.kafka, group)
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is not None and msg.error().code() != KafkaError._PARTITION_EOF:
                return int(msg.error().code())
            if consumer.assignment():
                return None
        return None
    finally:
        consumer.close()


@pytest.fixture()
def operator(topics: Settings, stack: StackSettings) -> Settings:
    """The operator's settings: the ops principal (only its grants), handing tenants the
    stack's read-only registry login."""
    tenants_login = SecretStr(registry_user_info(stack.dir, "tenant-any"))
    return topics.model_copy(update={
        "kafka": stack.kafka_client(OPS),
        "registry": stack.registry_client(OPS).model_copy(update={"tenant_user_info": tenants_login})})


@pytest.fixture()
def names() -> tuple[str, str, str]:
    tag = uuid.uuid4().hex[:6]
    return f"vendor-a-{tag}", f"vendor-b-{tag}", f"app-{tag}"


def test_each_tenant_gets_exactly_what_its_kind_is_granted(operator: Settings, tmp_path: Path,
                                                            names: tuple[str, str, str]) -> None:
    a_name, b_name, app_name = names
    a = _add(operator, tmp_path, "vendor", a_name, "--venue", "venue-a")
    _add(operator, tmp_path, "vendor", b_name, "--venue", "venue-b")
    app = _add(operator, tmp_path, "app", app_name)
    prefix = operator.topic_prefix

    assert _produce(a, ingest_topic(a_name, EVENTS, prefix)) == [None]
    refused = _produce(a, ingest_topic(b_name, EVENTS, prefix))
    assert refused[0] is not None and refused[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    refused = _produce(a, topic_name(EVENTS, prefix))  # the shared topic of trusted connectors
    assert refused[0] is not None and refused[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED

    group = group_prefix(app_name, prefix) + "board"
    assert _poll_error(app, topic_name(FACTS, prefix), group) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert _poll_error(app, topic_name(AVAILABILITY, prefix), group) is None
    assert _poll_error(app, topic_name(AVAILABILITY, prefix), "someone-elses-group") == \
        KafkaError.GROUP_AUTHORIZATION_FAILED

    listed = _run(tenant, operator, "list")
    assert a_name in listed and "venue-a" in listed and app_name in listed
    directory = read_directory(operator.kafka, prefix)
    assert directory.active(a_name) is not None and directory.active(a_name).venues == ("venue-a",)


def test_a_revoked_tenant_is_refused_within_seconds_and_nobody_elses_data_is_lost(
        operator: Settings, topics: Settings, tmp_path: Path, names: tuple[str, str, str]) -> None:
    a_name, b_name, _ = names
    a = _add(operator, tmp_path, "vendor", a_name, "--venue", "venue-a")
    b = _add(operator, tmp_path, "vendor", b_name, "--venue", "venue-b")
    prefix = operator.topic_prefix
    b_topic = ingest_topic(b_name, EVENTS, prefix)
    acked: list[int] = []
    failed: list[str] = []
    stop = threading.Event()

    def b_traffic() -> None:
        producer = make_producer(b.kafka)
        i = 0
        while not stop.is_set():
            producer.produce(b_topic, key=b"k", value=f"b{i}".encode(), on_delivery=lambda err, _m: (
                failed.append(str(err)) if err else acked.append(1)))
            producer.poll(0)
            i += 1
            time.sleep(0.01)
        producer.flush(30)

    worker = threading.Thread(target=b_traffic)
    worker.start()
    a_producer = make_producer(a.kafka, message_timeout_ms=5_000)
    a_errors: list[KafkaError | None] = []
    a_producer.produce(ingest_topic(a_name, EVENTS, prefix), value=b"before",
                       on_delivery=lambda err, _m: a_errors.append(err))
    a_producer.flush(20)
    assert a_errors == [None]

    revoked_at = time.monotonic()
    _run(tenant, operator, "revoke", a_name)
    refused_after = None
    while time.monotonic() - revoked_at < 30 and refused_after is None:
        a_errors.clear()
        a_producer.produce(ingest_topic(a_name, EVENTS, prefix), value=b"after",
                           on_delivery=lambda err, _m: a_errors.append(err))
        a_producer.flush(10)
        if a_errors and a_errors[0] is not None:
            refused_after = time.monotonic() - revoked_at
    stop.set()
    worker.join(60)
    assert refused_after is not None and refused_after < 10, \
        f"the revoked tenant could still write {refused_after} s after `tenant revoke`"
    assert not failed, f"the other tenant lost writes during the revocation: {failed[:3]}"

    # Every write the other tenant had acknowledged is on its topic.
    admin_consumer = make_consumer(topics.kafka, f"check-{uuid.uuid4().hex[:6]}")  # the observer
    total = 0
    for p in range(4):
        low, high = admin_consumer.get_watermark_offsets(TopicPartition(b_topic, p), timeout=10)
        total += high - low
    admin_consumer.close()
    assert total == len(acked) > 0
    directory = read_directory(operator.kafka, prefix)
    assert directory.get(a_name) is not None and directory.get(a_name).revoked  # type: ignore[union-attr]
    assert directory.active(b_name) is not None


def test_access_apply_restores_what_the_catalog_grants_and_is_idempotent(
        operator: Settings, tmp_path: Path, names: tuple[str, str, str]) -> None:
    _, _, app_name = names
    _add(operator, tmp_path, "app", app_name)
    admin = make_admin(operator.kafka)
    # Someone removes the app's grant by hand: apply puts it back, then has nothing to do.
    flt = AclBindingFilter(ResourceType.TOPIC, topic_name(AVAILABILITY, operator.topic_prefix),
                           ResourcePatternType.LITERAL, f"User:tenant-{app_name}", None,
                           AclOperation.ANY, AclPermissionType.ANY)
    for fut in admin.delete_acls([flt]).values():
        assert fut.result(timeout=30)
    # KRaft applies ACL changes through its metadata log: wait until the broker shows it gone.
    wait_for(lambda: admin.describe_acls(flt).result(timeout=15) == [], 15, "the removed grant to be gone")
    first = _run(access, operator, "apply")
    assert f"tenant-{app_name}" in first and "added" in first
    second = _run(access, operator, "apply")
    assert second.strip().endswith("0 change(s)"), second


def test_access_apply_removes_the_acls_of_a_tenant_missing_from_the_directory(
        operator: Settings, tmp_path: Path, names: tuple[str, str, str]) -> None:
    _, _, app_name = names
    _add(operator, tmp_path, "app", app_name)
    admin = make_admin(operator.kafka)
    prefix, tag = operator.topic_prefix, uuid.uuid4().hex[:6]
    real, orphan, stray = f"tenant-{app_name}", f"tenant-gone-{tag}", f"tenant-stray-{tag}"
    anything: Any = None  # matches any name and host
    every_acl_of = {u: AclBindingFilter(ResourceType.ANY, anything, ResourcePatternType.ANY, f"User:{u}",
                                        anything, AclOperation.ANY, AclPermissionType.ANY)
                    for u in (real, orphan)}

    def acls_of(user: str) -> list[str]:
        return sorted(map(describe, admin.describe_acls(every_acl_of[user]).result(timeout=15)))

    # A tenant with no record (lost, or granted by hand) reads a topic here and one of
    # another deployment on the same broker; it, and a tenant user with no ACLs, can log in.
    here, elsewhere = (AclBinding(ResourceType.TOPIC, topic_name(AVAILABILITY, p), ResourcePatternType.LITERAL,
                                  f"User:{orphan}", "*", AclOperation.READ, AclPermissionType.ALLOW)
                       for p in (prefix, f"other{tag}."))
    for fut in admin.create_acls([here, elsewhere]).values():
        fut.result(timeout=30)
    upsert_scram(admin, orphan, new_secret())
    upsert_scram(admin, stray, new_secret())
    try:
        # KRaft applies ACL and credential changes through its metadata log: wait for them.
        wait_for(lambda: acls_of(orphan) == sorted(map(describe, [here, elsewhere])), 15,
                 "the orphan's grants to show")
        wait_for(lambda: {orphan, stray} <= set(scram_users(admin)), 15, "the credentials to show")
        real_before = acls_of(real)
        assert real_before

        first = access_apply(operator, admin)
        theirs = [str(c) for c in first.changes if c.binding.principal in (f"User:{real}", f"User:{orphan}")]
        assert theirs == [f"removed {describe(here)}"], first.changes
        wait_for(lambda: acls_of(orphan) == [describe(elsewhere)], 15, "the orphan's grant here to be gone")
        assert acls_of(real) == real_before
        # Reported: only the user with no record and no ACL anywhere; and nothing deleted.
        assert [user for user in (real, orphan, stray) if any(n.startswith(f"{user} ") for n in first.notices)] \
            == [stray], first.notices
        assert {orphan, stray} <= set(scram_users(admin))

        second = access_apply(operator, admin)
        assert second.changes == [], second.changes
    finally:
        for fut in admin.delete_acls([every_acl_of[orphan]]).values():
            fut.result(timeout=30)
        delete_scram(admin, orphan)
        delete_scram(admin, stray)
