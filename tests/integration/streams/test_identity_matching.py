"""Acceptance (#13 item 1, matching): a show listed in UiTdatabank and sold through
Ticketmatic whose events carry NO sector id is still one performance: the real worker
matches the descriptions by title, venue and start. A doubtful match waits for a person
(`cultuurbus identity accept|reject`, run as the real command) with its tickets parked;
a wrong match can be undone."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bus.settings import Settings
from bus.topics import REVIEW
from connectors.fakes import ticketmatic as tmf
from connectors.fakes.ticketmatic import FakeTicketmatic
from connectors.fakes.uitdatabank import FakeUitdatabank, uit_event, uit_uuid
from ops.access.principals import OPS
from schemas.models import Identifier
from tests.support.sources import run_uitdatabank

from .harness import REPO, Worker, env_for, latest, wait_until
from .test_identity_real_sources import _availability, _run_eventstream

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

STEP_S = 180


def _list_in_uitdatabank(s: Settings, *events: dict[str, Any]) -> None:
    with FakeUitdatabank(client_id="t") as uit:
        for event in events:
            uit.add(event)
        run_uitdatabank(s, uit)


def _cli(s: Settings, workdir: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "ops.cli", "identity", *args], env=env_for(s, workdir / "cli", OPS),
                          cwd=REPO, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    return proc.stdout.decode()


def _pending(s: Settings) -> dict[str, Any]:
    return {k: v for k, v in latest(s, REVIEW, "identity_candidate.avsc").items() if v and v["state"] == "PENDING"}


def _evening(days: int) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(hour=19, minute=30, second=0, microsecond=0)


def _sold(s: Settings) -> dict[str, int]:
    return {pid: a["sold"] for pid, a in _availability(s).items()}


def test_a_vendor_event_without_any_shared_id_is_matched_to_the_calendar_performance_and_can_be_undone(
        streams_settings: Settings, workdir: Path) -> None:
    s = streams_settings
    start = _evening(10)
    worker = Worker("w1", s, workdir / "state", workdir / "w1.log").start()
    try:
        _list_in_uitdatabank(s, uit_event(7, starts=[start], modified=datetime.now(UTC), title="De Kersentuin",
                                          capacities=[400], remaining=[400]))
        pid = Identifier.uit(uit_uuid("event", 7), 0).key
        assert wait_until(lambda: set(_availability(s)) == {pid}, STEP_S, interval=1)

        account = f"schouwburg{uuid.uuid4().hex[:6]}"
        vendor = Identifier.vendor("ticketmatic", account, 101).key
        now = datetime.now(UTC) - timedelta(minutes=5)
        feed = [tmf.event_item(tmf.stream_id(0), now, tmf.event_data(101, "De Kersentuin", start, contingents=((89, 400),))),
                tmf.order_item(tmf.stream_id(1), now, 9001, [tmf.order_ticket(t, 101) for t in (1, 2, 3)])]
        with FakeTicketmatic(feed, page_size=2, account=account) as tm:
            _run_eventstream(s, tm, account, "tm")
            got = wait_until(lambda: (a := _sold(s)).get(pid) == 3 and a, STEP_S, interval=1)
            assert got == {pid: 3}, "one performance, the vendor's sales counted on it, no vendor-keyed twin"
            assert "(match score 93.8 by matcher" in _cli(s, workdir, "links", vendor)

            # A person finds the match wrong: the vendor event is its own performance again.
            assert "leaves " + pid in _cli(s, workdir, "undo", vendor, "--by", "ann")
            assert wait_until(lambda: vendor in _availability(s), STEP_S, interval=1), _availability(s)
            tm.append([tmf.order_item(tmf.stream_id(2), now, 9002, [tmf.order_ticket(t, 101) for t in (4, 5)])])
            _run_eventstream(s, tm, account, "tm")

        def restored() -> dict[str, int] | None:
            got = _sold(s)
            return got if got.get(vendor, 0) >= 2 and sum(got.values()) == 5 else None

        after = wait_until(restored, STEP_S, interval=1)
        assert after, f"facts after the undo never counted on {vendor}: {_sold(s)}"
        assert _availability(s)[vendor]["capacity"] == 400
        assert "(person score 93.8 by ann" in _cli(s, workdir, "links", vendor)
        assert worker.alive()
    finally:
        worker.stop()


def test_a_matinee_and_the_evening_show_with_the_same_title_stay_two_performances(
        streams_settings: Settings, workdir: Path) -> None:
    s = streams_settings
    evening = _evening(12)
    matinee = evening - timedelta(hours=6)
    worker = Worker("w1", s, workdir / "state", workdir / "w1.log").start()
    try:
        _list_in_uitdatabank(s, uit_event(9, starts=[matinee, evening], modified=datetime.now(UTC),
                                          title="Roodkapje", capacities=[300, 300], remaining=[300, 300]))
        pids = [Identifier.uit(uit_uuid("event", 9), n).key for n in range(2)]
        assert wait_until(lambda: set(_availability(s)) == set(pids), STEP_S, interval=1)
        account = f"jeugd{uuid.uuid4().hex[:6]}"
        now = datetime.now(UTC) - timedelta(minutes=5)
        feed = [tmf.event_item(tmf.stream_id(0), now, tmf.event_data(201, "Roodkapje", matinee, contingents=((89, 300),))),
                tmf.event_item(tmf.stream_id(1), now, tmf.event_data(202, "Roodkapje", evening, contingents=((89, 300),))),
                tmf.order_item(tmf.stream_id(2), now, 9101, [tmf.order_ticket(1, 201)]),
                tmf.order_item(tmf.stream_id(3), now, 9102, [tmf.order_ticket(t, 202) for t in (2, 3, 4, 5)])]
        with FakeTicketmatic(feed, page_size=2, account=account) as tm:
            _run_eventstream(s, tm, account, "tm")
        got = wait_until(lambda: (a := _sold(s)) == {pids[0]: 1, pids[1]: 4} and a, STEP_S, interval=1)
        assert got, f"matinee and evening mixed up: {_sold(s)}"
    finally:
        worker.stop()


def test_a_doubtful_match_waits_for_a_person_with_its_tickets_parked_then_accept_or_reject_releases_them(
        streams_settings: Settings, workdir: Path) -> None:
    s = streams_settings
    first, second = _evening(14), _evening(15)
    worker = Worker("w1", s, workdir / "state", workdir / "w1.log").start()
    try:
        _list_in_uitdatabank(
            s, uit_event(7, starts=[first], modified=datetime.now(UTC), title="De Kersentuin", capacities=[400],
                         remaining=[400]),
            uit_event(8, starts=[second], modified=datetime.now(UTC), title="Hamlet", capacities=[200],
                      remaining=[200]))
        kersentuin, hamlet = (Identifier.uit(uit_uuid("event", n), 0).key for n in (7, 8))
        assert wait_until(lambda: set(_availability(s)) == {kersentuin, hamlet}, STEP_S, interval=1)

        account = f"zaal{uuid.uuid4().hex[:6]}"
        vendor = {n: Identifier.vendor("ticketmatic", account, n).key for n in (301, 302)}
        now = datetime.now(UTC) - timedelta(minutes=5)
        feed = [tmf.event_item(tmf.stream_id(0), now, tmf.event_data(301, "Kersentuin (Tsjechov)", first, contingents=((89, 400),))),
                tmf.event_item(tmf.stream_id(1), now, tmf.event_data(302, "Hamlett", second, contingents=((89, 200),))),
                tmf.order_item(tmf.stream_id(2), now, 9201, [tmf.order_ticket(t, 301) for t in (1, 2)]),
                tmf.order_item(tmf.stream_id(3), now, 9202, [tmf.order_ticket(3, 302)])]
        with FakeTicketmatic(feed, page_size=2, account=account) as tm:
            _run_eventstream(s, tm, account, "tm")
        pending = wait_until(lambda: len(p := _pending(s)) == 2 and p, STEP_S, interval=1)
        assert pending, f"no review candidates: {latest(s, REVIEW, 'identity_candidate.avsc')}"
        listed = _cli(s, workdir, "candidates")
        assert "'Kersentuin (Tsjechov)'" in listed and "'De Kersentuin'" in listed and "2 pending" in listed
        assert _sold(s) == {kersentuin: 0, hamlet: 0}, "parked tickets are counted nowhere"

        by_target = {c["target_id"]: cid for cid, c in pending.items()}
        _cli(s, workdir, "accept", by_target[kersentuin], "--by", "ann")
        _cli(s, workdir, "reject", by_target[hamlet], "--by", "bob")
        want = {kersentuin: 2, hamlet: 0, vendor[302]: 1}
        got = wait_until(lambda: (a := _sold(s)) == want and a, STEP_S, interval=1)
        assert got, f"decisions did not release the parked tickets: {_sold(s)}"
        assert _pending(s) == {} and "0 pending" in _cli(s, workdir, "candidates")
        assert "(person score" in _cli(s, workdir, "links", vendor[301]) and "by ann" in _cli(
            s, workdir, "links", vendor[301])
    finally:
        worker.stop()
