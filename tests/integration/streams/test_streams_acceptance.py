"""Acceptance: the streams workers' final state equals the simulator's ground truth (a
season played by real rules: ``cultuurbus simulate``'s default), against the real broker —
also with two workers, with a worker joining and then leaving while facts arrive, after
kill -9, with the calendar arriving last, with the vendors' own event descriptions and
venue pages arriving before the DIP/UiT calendars, and after replaying everything again."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaException

from bus.kafka import make_admin
from bus.settings import Settings
from bus.topics import ATTENDANCE, AVAILABILITY, SALES

from .conftest import Season
from .harness import Raw, Worker, facts_report, latest, replay, wait_until

# The first test also pays the session's stack and season (~30 s + 60-90 s on a shared
# 2-core machine), a worker's start takes up to a minute there, and settling up to SETTLE_S:
# more than the suite's default 300 s per test.
pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(600)]

SETTLE_S = 180


def availability_diff(settings: Settings, truth: dict[str, Any]) -> list[str]:
    got = latest(settings, AVAILABILITY, "availability.avsc")
    diffs = []
    for pid, want in truth["performances"].items():
        have = got.get(pid)
        if have is None:
            diffs.append(f"{pid}: no availability")
            continue
        for field, truth_field in (("capacity", "capacity"), ("sold", "sold"), ("reserved", "reserved"),
                                   ("blocked", "blocked"), ("remaining", "remaining"),
                                   ("refunded", "refunded"), ("status", "availability")):
            if have[field] != want[truth_field]:
                diffs.append(f"{pid}: {field} {have[field]!r} != truth {want[truth_field]!r}")
    return diffs


def attendance_diff(settings: Settings, truth: dict[str, Any]) -> list[str]:
    got = latest(settings, ATTENDANCE, "attendance.avsc")
    diffs = []
    for pid, want in truth["performances"].items():
        if not want.get("scans_reported", True):
            continue
        have = got.get(pid) or {"scanned": 0, "no_shows": None}
        if have["scanned"] != want["scanned"]:
            diffs.append(f"{pid}: scanned {have['scanned']} != {want['scanned']}")
        if want["started"] and have["no_shows"] != want["no_shows"]:
            diffs.append(f"{pid}: no_shows {have['no_shows']} != {want['no_shows']}")
    return diffs


def sales_diff(settings: Settings, truth: dict[str, Any]) -> list[str]:
    got = latest(settings, SALES, "sales_window.avsc")
    per: dict[tuple[str, str], list[int]] = {}
    for rec in got.values():
        if rec and rec["granularity"] == "DAY":
            acc = per.setdefault((rec["performance_id"], rec["ticket_type"]), [0, 0])
            acc[0] += rec["tickets"]
            acc[1] += rec["revenue_cents"]
    diffs = []
    for pid, want in truth["performances"].items():
        for tt, tickets in want["tickets"].items():
            have = per.get((pid, tt), [0, 0])
            if have[0] != tickets or have[1] != want["revenue_cents"][tt]:
                diffs.append(f"{pid} {tt}: {have} != {[tickets, want['revenue_cents'][tt]]}")
    return diffs


def differences(settings: Settings, truth: dict[str, Any]) -> list[str]:
    return availability_diff(settings, truth) + attendance_diff(settings, truth) + sales_diff(settings, truth)


def settle(settings: Settings, truth: dict[str, Any]) -> list[str]:
    """Wait (bounded) until availability, attendance and sales all match (a performance's
    scans come after its sales, so its availability can be final before its attendance),
    then return every remaining difference; when there are some, print what
    participation.facts holds for their performances (shown with the failure)."""
    last: list[str] = []

    def matched() -> bool:
        last[:] = differences(settings, truth)  # each read is three topics: keep its answer
        return not last

    wait_until(matched, SETTLE_S, interval=3)
    diffs = list(last)
    if diffs:
        try:
            print(facts_report(settings, sorted({d.split(": ")[0].split(" ")[0] for d in diffs})))
        except Exception as e:  # noqa: BLE001 - a failed report must not hide the differences
            print(f"no report of participation.facts: {type(e).__name__}: {e}")
    return diffs


def start(settings: Settings, workdir: Path, *names: str) -> list[Worker]:
    return [Worker(n, settings, workdir / "state", workdir / f"{n}.log").start() for n in names]


def stop(workers: list[Worker]) -> None:
    for w in workers:
        w.stop()


def test_final_state_equals_the_ground_truth(season: Season, streams_settings: Settings,
                                             workdir: Path) -> None:
    assert len(season.truth["performances"]) >= 20
    replay(streams_settings, season.calendar + season.tickets)
    workers = start(streams_settings, workdir, "w1")
    try:
        assert settle(streams_settings, season.truth) == []
    finally:
        stop(workers)


def test_calendar_arriving_after_the_tickets_parks_and_then_releases_them(
        season: Season, streams_settings: Settings, workdir: Path) -> None:
    workers = start(streams_settings, workdir, "w1")
    try:
        replay(streams_settings, season.tickets)
        time.sleep(5)
        parked = latest(streams_settings, AVAILABILITY, "availability.avsc")
        assert parked == {}, "no performance is known yet, so nothing may be counted"
        replay(streams_settings, season.calendar)
        assert settle(streams_settings, season.truth) == []
    finally:
        stop(workers)


def _sector(record: Raw) -> bool:
    """A calendar fact keyed by a sector id (DIP calendar, UiTdatabank), not a vendor's own
    event description, a venue page or a feed."""
    return (record.key or b"").startswith((b"dip|", b"uit|"))


def test_descriptions_without_a_sector_id_coming_first_leave_the_performance_named_by_the_calendar(
        season: Season, streams_settings: Settings, workdir: Path) -> None:
    own = [r for r in season.calendar if not _sector(r)]
    sector = [r for r in season.calendar if _sector(r)]
    assert own and sector
    workers = start(streams_settings, workdir, "w1")
    try:
        replay(streams_settings, own + season.tickets)
        seen: list[int] = []

        def founded_by_them() -> bool:  # vendors' events and venue pages founded theirs, sales counted
            got = latest(streams_settings, AVAILABILITY, "availability.avsc")
            seen.append(sum(v["sold"] for v in got.values() if v))
            return len(seen) > 1 and seen[-1] > 0 and seen[-1] == seen[-2]

        wait_until(founded_by_them, SETTLE_S, interval=5)
        replay(streams_settings, sector)  # then the DIP calendar and UiTdatabank describe them
        assert settle(streams_settings, season.truth) == []
        shown = latest(streams_settings, AVAILABILITY, "availability.avsc")
        extra = sorted(pid for pid, rec in shown.items() if rec is not None and pid not in season.truth[
            "performances"])
        assert extra == [], "a performance renamed to its sector id is withdrawn, not shown twice"
    finally:
        stop(workers)


def test_two_workers_share_the_partitions_and_agree_with_the_truth(
        season: Season, streams_settings: Settings, workdir: Path) -> None:
    replay(streams_settings, season.calendar)
    workers = start(streams_settings, workdir, "w1", "w2")
    try:
        time.sleep(3)
        replay(streams_settings, season.tickets)
        assert settle(streams_settings, season.truth) == []
        assert all(w.alive() for w in workers)
    finally:
        stop(workers)


def group_members(settings: Settings) -> int:
    """How many workers the streams group has now (0 while it has none or rebalances)."""
    group = settings.streams.app_id + f"-{settings.topic_prefix.strip('.')}"
    admin = make_admin(settings.kafka)  # held: a collected client never completes its futures
    try:
        described = admin.describe_consumer_groups([group], request_timeout=10)
        return len(described[group].result(timeout=15).members)
    except (KafkaException, TimeoutError):
        return 0


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason=(
    "on a fully loaded machine (two busy loops beside the tests) this test lost facts now "
    "and then: blocks of ~80 facts skipped by the worker that took a partition over, once "
    "a single scan. Session 19 fixed Faust taking the jump a rebalance leaves in a fetch "
    "for a gap in the log; whether that was the skipped blocks' cause is not proven. Session "
    "27 closed a one-offset hole at every rebalance's seek (streams.faust_hooks); the test "
    "has passed in every run since, and becomes strict once a few more CI runs agree"))
def test_a_worker_that_joins_and_then_leaves_while_facts_arrive_loses_and_doubles_nothing(
        season: Season, streams_settings: Settings, workdir: Path) -> None:
    """Two rebalances with facts in flight: the second worker takes partitions (and their
    tables) over from the first, then stops while both are busy with a burst, and its
    partitions go back to the first worker through the changelogs."""
    replay(streams_settings, season.calendar)
    (w1,) = workers = start(streams_settings, workdir, "w1")
    try:
        assert wait_until(lambda: group_members(streams_settings) == 1, 120), "the first worker joined"
        third = len(season.tickets) // 3
        replay(streams_settings, season.tickets[:third])
        workers += start(streams_settings, workdir, "w2")
        assert wait_until(lambda: group_members(streams_settings) == 2, 180), "the second worker joined"
        time.sleep(5)  # the second worker has its partitions' tables and applies their facts
        replay(streams_settings, season.tickets[third:])  # a burst: both workers have a backlog
        workers[1].stop()  # leaves the group while it (and then the first worker) is busy
        assert settle(streams_settings, season.truth) == []
        assert w1.alive()
    finally:
        stop(workers)


@pytest.mark.slow
def test_kill_9_in_the_middle_and_restart_changes_nothing(season: Season, streams_settings: Settings,
                                                          workdir: Path) -> None:
    replay(streams_settings, season.calendar)
    (w1,) = start(streams_settings, workdir, "w1")
    try:
        half = len(season.tickets) // 2
        replay(streams_settings, season.tickets[:half])
        time.sleep(random.Random(1).uniform(1.0, 3.0))
        replay(streams_settings, season.tickets[half:])
        w1.kill9()  # mid-stream: tables, offsets and outputs in whatever state
        (w1,) = start(streams_settings, workdir, "w1")
        assert settle(streams_settings, season.truth) == []
    finally:
        w1.stop()


def test_replaying_every_fact_from_the_start_changes_nothing(season: Season, streams_settings: Settings,
                                                             workdir: Path) -> None:
    replay(streams_settings, season.calendar + season.tickets)
    workers = start(streams_settings, workdir, "w1")
    try:
        assert settle(streams_settings, season.truth) == []
        replay(streams_settings, season.calendar + season.tickets)  # every fact delivered again
        time.sleep(10)
        assert settle(streams_settings, season.truth) == []
    finally:
        stop(workers)
