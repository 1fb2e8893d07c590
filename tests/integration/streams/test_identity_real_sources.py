"""Acceptance (#13 item 1): a show listed in UiTdatabank and sold through Ticketmatic is
one performance per date. The Ticketmatic events carry the UiTdatabank id in a custom
field (the event id alone for one date, ``uuid#n`` for another, one also a DIP id); the
real connectors publish to the real broker and a real streams worker joins them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bus.settings import Settings
from bus.topics import AVAILABILITY
from connectors.fakes import ticketmatic as tmf
from connectors.fakes.ticketmatic import FakeTicketmatic
from connectors.fakes.uitdatabank import FakeUitdatabank, uit_event, uit_uuid
from connectors.sdk.identifiers import IdFields
from schemas.models import Identifier
from tests.support.sources import eventstream, run_source, run_uitdatabank

from .harness import Worker, latest, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

STEP_S = 180


def _run_eventstream(settings: Settings, fake: FakeTicketmatic, account: str, name: str) -> None:
    ids = IdFields.parse(["uit=c_uitdatabankid", "dip=c_dipid"])
    run_source(settings, name, eventstream(fake, account, id_fields=ids), poll_interval_s=0.05, backoff_max_s=0.3)


def _availability(settings: Settings) -> dict[str, Any]:
    return {k: v for k, v in latest(settings, AVAILABILITY, "availability.avsc").items() if v}


def test_a_uitdatabank_show_sold_through_ticketmatic_is_one_performance_per_date(
        streams_settings: Settings, workdir: Path) -> None:
    s = streams_settings
    base = (datetime.now(UTC) + timedelta(days=10)).replace(hour=19, minute=30, second=0,
                                                              microsecond=0)
    starts = [base, base + timedelta(days=1), base + timedelta(days=2)]
    worker = Worker("w1", s, workdir / "state", workdir / "w1.log").start()
    try:
        # The theatre lists the show in UiTdatabank: three dates, the second cancelled.
        with FakeUitdatabank(client_id="t") as uit:
            uit.add(uit_event(7, starts=starts, modified=uit.tick(), title="De Kersentuin",
                              capacities=[400, 400, 300], remaining=[400, 400, 300],
                              sub_statuses=["Available", "Unavailable", "Available"]))
            run_uitdatabank(s, uit)
        event = uit_uuid("event", 7)
        pids = [Identifier.uit(event, n).key for n in range(3)]
        assert wait_until(lambda: set(_availability(s)) == set(pids), STEP_S, interval=1)

        # It sells through Ticketmatic; the events name the UiT event in a custom field.
        account = f"schouwburg{uuid.uuid4().hex[:6]}"
        now = datetime.now(UTC) - timedelta(minutes=5)
        feed = [
            tmf.event_item(tmf.stream_id(0), now, tmf.event_data(
                101, "De Kersentuin", starts[0], contingents=((89, 400),),
                custom_fields={"uitdatabankid": event})),
            tmf.event_item(tmf.stream_id(1), now, tmf.event_data(
                102, "De Kersentuin", starts[1], contingents=((89, 400),),
                custom_fields={"uitdatabankid": f"https://io.uitdatabank.be/event/{event}"})),
            tmf.event_item(tmf.stream_id(2), now, tmf.event_data(
                103, "De Kersentuin", starts[2], contingents=((89, 300),),
                custom_fields={"uitdatabankid": f"{event.upper()}#2", "dipid": "nl-25-0007-1|3"})),
            tmf.order_item(tmf.stream_id(3), now, 9001, [tmf.order_ticket(t, 101) for t in (1, 2, 3)]),
            tmf.order_item(tmf.stream_id(4), now, 9002, [tmf.order_ticket(t, 103) for t in (4, 5)]),
        ]
        with FakeTicketmatic(feed, page_size=2, account=account) as tm:
            _run_eventstream(s, tm, account, "tm")
            # The page is served again (a connector started over from the first item),
            # then a refund of one ticket of the last date arrives.
            _run_eventstream(s, tm, account, "tm-replay")
            tm.append([tmf.order_item(tmf.stream_id(5), now, 9002, [tmf.order_ticket(5, 103)],
                                  type_="order:refunded")])
            _run_eventstream(s, tm, account, "tm")

        def settled() -> dict[str, Any] | None:
            got = _availability(s)
            last = got.get(pids[2])
            return got if last and last["refunded"] == 1 else None

        got = wait_until(settled, STEP_S, interval=1)
        assert got, f"the refund never reached {pids[2]}: {_availability(s)}"
        assert sorted(got) == sorted(pids), "one performance per date, no vendor-keyed twin"
        seen = {pid: (got[pid]["capacity"], got[pid]["sold"], got[pid]["remaining"],
                      got[pid]["status"]) for pid in pids}
        assert seen[pids[0]][:3] == (400, 3, 397)
        assert seen[pids[1]][3] == "CANCELLED"
        assert seen[pids[2]][:3] == (300, 1, 299)  # two sold, one refunded
        assert worker.alive()
    finally:
        worker.stop()
