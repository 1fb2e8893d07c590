"""The eventstream poller against real Kafka: failures ridden out, the cursor kept, a
kill -9 between Kafka's ack and the cursor commit, and throughput."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bus.serde import AvroDeserializer, Registry
from bus.settings import Settings
from bus.topics import PERFORMANCES, TICKET_EVENTS
from connectors.fakes.ticketmatic import CUSTOMERS, FakeTicketmatic, generate_feed
from connectors.sdk.context import ConnectorContext
from connectors.sdk.positions import PositionStore
from connectors.sdk.runner import SourceRunner
from connectors.ticketing.eventstream.mapping import MappingEnv, map_item
from ops.access.principals import CONNECTOR
from tests.integration.connectors.readback import read_topic
from tests.support.roles import role_env
from tests.support.sources import eventstream, run_source

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]


def facts(settings: Settings, registry: Registry, topic: str, account: str) -> list[dict[str, Any]]:
    decode = AvroDeserializer(registry)
    out = [decode(m.value()) for m in read_topic(settings, topic)]
    return [f for f in out if f is not None and f["source_account"] == account]


def expected_ids(feed: list[dict[str, Any]], account: str) -> set[str]:
    from pydantic import SecretStr

    from connectors.sdk.privacy import Pseudonymiser

    env = MappingEnv(account, Pseudonymiser(SecretStr("x" * 32)))
    ids: set[str] = set()
    for item in feed:
        mapped = map_item(item, env)
        env.event_ids.update(mapped.links)
        ids |= {r.value.fact_id for r in mapped.records}  # type: ignore[attr-defined]
    return ids


def test_every_item_is_published_once_through_three_server_failures_and_the_cursor_is_saved(
        topics: Settings, registry: Registry) -> None:
    account = f"acme-{uuid.uuid4().hex[:6]}"
    feed = generate_feed(60)
    with FakeTicketmatic(feed, page_size=10, account=account) as fake:
        fake.fail_next(3, 500)
        run_source(topics, f"es-{account}", eventstream(fake, account), poll_interval_s=0.05, backoff_max_s=0.3)
        end = fake.page(fake.requests[-1])["nextid"]
        assert fake.requests[:4] == ["0"] * 4  # three failures, the same cursor each time
    tickets = facts(topics, registry, TICKET_EVENTS, account)
    performances = facts(topics, registry, PERFORMANCES, account)
    ids = [f["fact_id"] for f in tickets + performances]
    assert len(ids) == len(set(ids)) == len(expected_ids(feed, account))
    assert set(ids) == expected_ids(feed, account)
    assert len(performances) == 5
    with ConnectorContext(topics, f"es-{account}", serve_metrics=False) as ctx2:
        assert PositionStore(ctx2.publisher, f"es-{account}").get(f"ticketmatic:{account}") == {"id": end}


class _FlakyPositions:
    """The real position store whose first save is lost (a crash after Kafka's ack)."""

    def __init__(self, real: PositionStore) -> None:
        self.real, self.lost = real, 0

    def get(self, part: str) -> dict[str, Any] | None:
        return self.real.get(part)

    def save(self, part: str, position: dict[str, Any], timeout: float | None = None) -> None:
        if self.lost == 0:
            self.lost += 1
            from bus.errors import DeliveryError

            raise DeliveryError("position lost (test)")
        self.real.save(part, position, timeout)


def test_a_cursor_commit_lost_after_kafkas_ack_replays_the_page_and_skips_nothing(
        topics: Settings, registry: Registry) -> None:
    account = f"acme-{uuid.uuid4().hex[:6]}"
    feed = generate_feed(30)
    with FakeTicketmatic(feed, page_size=10, account=account) as fake:
        run_source(topics, f"es-{account}", eventstream(fake, account), _FlakyPositions,
                   poll_interval_s=0.05, backoff_max_s=0.2)
    ids = [f["fact_id"] for f in facts(topics, registry, TICKET_EVENTS, account)
           + facts(topics, registry, PERFORMANCES, account)]
    counts = Counter(ids)
    assert set(counts) == expected_ids(feed, account)
    assert sum(counts.values()) == len(counts) + 10  # the first page twice, with the same ids


def _cli(settings: Settings, fake: FakeTicketmatic, account: str, name: str) -> subprocess.Popen[bytes]:
    env = {**os.environ,
           **role_env(CONNECTOR),
           "CULTUURBUS_REGISTRY__URL": settings.registry.url,
           "CULTUURBUS_TOPIC_PREFIX": settings.topic_prefix,
           "CULTUURBUS_CONNECTOR__POLL_INTERVAL_S": "0.1",
           "CULTUURBUS_CONNECTOR__BACKOFF_MAX_S": "0.5",
           "CULTUURBUS_LOG_LEVEL": "WARNING"}
    return subprocess.Popen(
        [str(REPO / ".venv/bin/cultuurbus"), "connector", "eventstream", "--base-url",
         fake.base_url, "--account", account, "--name", name, "--no-metrics",
         "--until-caught-up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_kill_9_mid_run_then_restart_publishes_every_item_and_duplicates_only_seen_ids(
        topics: Settings, registry: Registry) -> None:
    account = f"acme-{uuid.uuid4().hex[:6]}"
    name = f"es-kill-{account}"
    feed = generate_feed(200)
    with FakeTicketmatic(feed, page_size=10, account=account) as fake:
        fake.stall_next(40, 0.25)  # a slow vendor: the run takes a few seconds
        proc = _cli(topics, fake, account, name)
        try:
            deadline = time.monotonic() + 90
            while len(facts(topics, registry, TICKET_EVENTS, account)) < 40:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline, "the connector published nothing in 90 s"
                time.sleep(0.3)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
        killed_at = len(fake.requests)
        restart = _cli(topics, fake, account, name)
        out, err = restart.communicate(timeout=120)
        assert restart.returncode == 0, err.decode()[-2000:]
        resumed_from = fake.requests[killed_at]
    assert resumed_from != "0", "the restart did not resume from the saved cursor"
    published_after = re.search(r"(\d+) facts published", err.decode())
    assert published_after and int(published_after.group(1)) > 0, "killed after the end, not mid-run"
    ids = [f["fact_id"] for f in facts(topics, registry, TICKET_EVENTS, account)
           + facts(topics, registry, PERFORMANCES, account)]
    counts = Counter(ids)
    expected = expected_ids(feed, account)
    assert set(counts) == expected  # nothing lost, nothing foreign
    replayed = sum(counts.values()) - len(counts)
    assert replayed <= 20  # at most the page(s) in flight at the kill, with the same ids


def test_no_raw_customer_data_reaches_kafka(topics: Settings, registry: Registry) -> None:
    account = f"acme-{uuid.uuid4().hex[:6]}"
    feed = generate_feed(40)
    bad = dict(feed[10])
    bad["data"] = {**bad["data"], "tickets": [{"id": 1, "eventid": 2, "price": "-1",
                                               "ticketname": "Marieke Dijkstra"}]}
    feed[10] = bad
    with FakeTicketmatic(feed, page_size=50, account=account) as fake:
        run_source(topics, f"es-{account}", eventstream(fake, account))
    raws = [m.value() or b"" for t in (TICKET_EVENTS, PERFORMANCES, TICKET_EVENTS + ".dlq",
                                       "connect.positions") for m in read_topic(topics, t)]
    assert any(account.encode() in r for r in raws)
    for customer in CUSTOMERS:
        for value in customer.personal_values():
            assert not any(value.encode() in r for r in raws), f"{value!r} reached Kafka"


def test_throughput_of_the_poller_through_real_kafka(topics: Settings, registry: Registry,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    account = f"bench-{uuid.uuid4().hex[:6]}"
    feed = generate_feed(5000)
    with FakeTicketmatic(feed, page_size=500, account=account) as fake:
        with ConnectorContext(topics, f"es-{account}", serve_metrics=False) as ctx:
            runner = SourceRunner(eventstream(fake, account)(ctx), ctx.publisher, ctx.positions)
            t0 = time.monotonic()  # the run alone: opening the context is not the poller's work
            runner.run(until_caught_up=True)
            seconds = time.monotonic() - t0
    assert runner.published == len(expected_ids(feed, account))
    with capsys.disabled():
        print(f"\neventstream poller: {runner.published} facts in {seconds:.2f} s = "
              f"{runner.published / seconds:,.0f} facts/s (pages of 500, acks=all)", file=sys.stderr)
