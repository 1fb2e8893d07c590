"""A worker whose records the broker refuses commits nothing past their facts: it stops,
and once the broker takes them again a restart ends at the ground truth. A published
record, and a changelog write of an identity table (the match table's, written for every
calendar fact; Faust's own sends until session 23), both go through the outbox."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic

from bus.kafka import make_admin
from bus.settings import Settings
from bus.topics import AVAILABILITY, PARTITIONS

from .conftest import Season
from .harness import replay, wait_until
from .test_streams_acceptance import settle, start, stop

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]


def _match_changelog(settings: Settings) -> str:
    """The match table's changelog, created here as Faust would (it keeps one that exists)."""
    name = f"{settings.streams.app_id}-{settings.topic_prefix.strip('.')}-identity-match-changelog"
    admin = make_admin(settings.kafka)
    new = NewTopic(name, num_partitions=PARTITIONS, replication_factor=1, config={"cleanup.policy": "compact"})
    admin.create_topics([new])[name].result(timeout=30)
    return name


def _max_message_bytes(settings: Settings, name: str, value: str | None) -> None:
    """Set (or, with None, remove) the topic's ``max.message.bytes``; waits until the
    broker's view has it (KRaft applies it at the controller first)."""
    admin = make_admin(settings.kafka)
    op = AlterConfigOpType.SET if value is not None else AlterConfigOpType.DELETE
    res = ConfigResource(ConfigResource.Type.TOPIC, name, incremental_configs=[
        ConfigEntry("max.message.bytes", value or "", incremental_operation=op)])
    admin.incremental_alter_configs([res])[res].result(timeout=10)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        got = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, name)])
        entry = next(iter(got.values())).result(timeout=10)["max.message.bytes"]
        if (entry.value == value) if value is not None else entry.is_default:
            return
        time.sleep(0.5)
    raise AssertionError(f"{name}: max.message.bytes did not become {value}")


@pytest.mark.parametrize("refused", ["published", "match-changelog"])
def test_a_worker_whose_records_are_refused_stops_uncommitted_and_a_restart_repairs_everything(
        refused: str, season: Season, streams_settings: Settings, workdir: Path) -> None:
    s = streams_settings
    topic = s.topic_prefix + AVAILABILITY if refused == "published" else _match_changelog(s)
    _max_message_bytes(s, topic, "64")  # smaller than any record batch: every one refused
    half = len(season.tickets) // 2
    replay(s, season.calendar + season.tickets[:half])
    (w1,) = workers = start(s, workdir, "w1")
    try:
        stopped = wait_until(lambda: not w1.alive(), 240)
        log = (workdir / "w1.log").read_text(errors="replace")
        assert stopped, f"the worker went on although the broker refused its records to {topic}"
        assert "records not delivered: the worker will not commit past their facts" in log
        assert w1.proc is not None and w1.proc.returncode != 0
        _max_message_bytes(s, topic, None)  # the operator fixes the topic
        replay(s, season.tickets[half:])
        (w1,) = workers = start(s, workdir, "w1")
        assert settle(s, season.truth) == []
        assert w1.alive()
        log = (workdir / "w1.log").read_text(errors="replace")
        assert "unclean shutdown: local tables discarded" in log, "state ahead of the changelogs was kept"
    finally:
        stop(workers)
