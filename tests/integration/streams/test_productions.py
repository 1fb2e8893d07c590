"""Acceptance (#13 item 1, productions): performances of one production are related, never
merged. A UiTdatabank event (two dates, ``production`` with ``otherEvents``), a DIP
production whose first performance is the UiT first date (a Ticketmatic event names both
ids) and whose second performance only DIP knows: the gateway lists all three under the
UiT production id and under the DIP id, each with its own remaining seats."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from bus.settings import Settings
from bus.topics import AVAILABILITY, IDENTITY
from connectors.calendar.uitdatabank.source import UitdatabankSource
from connectors.fakes import ticketmatic as tmf
from connectors.fakes.dip import FakeDip, dip_performance, dip_production
from connectors.fakes.ticketmatic import FakeTicketmatic
from connectors.fakes.uitdatabank import FakeUitdatabank, uit_event, uit_uuid
from connectors.sdk.context import ConnectorContext
from connectors.sdk.identifiers import IdFields
from connectors.sdk.runner import PollingSource
from connectors.ticketing.dip import DipCalendarSource
from schemas.models import Identifier
from sinks.gateway.server import Gateway
from tests.support.sources import eventstream, run_source

from .harness import Worker, latest, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

STEP_S = 180
PRODUCTION = "10ce7cb1-7bc9-4ce4-a256-460f56c49965"
OTHER_EVENT = "eb155497-46b9-4fb2-9457-d073fe02322e"


def _run(settings: Settings, name: str, source: Callable[[ConnectorContext], PollingSource]) -> None:
    """Run a connector's source (built with its context) until it has caught up."""
    run_source(settings, name, source, poll_interval_s=0.05, backoff_max_s=0.3)


def test_performances_of_one_production_are_listed_together_by_any_of_its_ids_and_never_merged(
        streams_settings: Settings, workdir: Path) -> None:
    s = streams_settings
    base = (datetime.now(UTC) + timedelta(days=10)).replace(hour=19, minute=15, second=0, microsecond=0)
    dip_prod = f"NL-26-{uuid.uuid4().int % 10000:04d}-3"
    event = uit_uuid("event", 21)
    uit_dates = [Identifier.uit(event, n).key for n in range(2)]
    dip_only = Identifier.dip(dip_prod, 2).key
    worker = Worker("w1", s, workdir / "state", workdir / "w1.log").start()
    try:
        # UiTdatabank lists the show on two dates; UiT links it to a production.
        with FakeUitdatabank(client_id="t") as uit:
            listed = uit_event(21, starts=[base, base + timedelta(days=1)], modified=uit.tick(),
                               title="Kommil Foo - OOGST", capacities=[400, 300], remaining=[400, 300])
            listed["production"] = {"id": PRODUCTION, "title": "Kommil Foo - OOGST", "otherEvents": [
                f"https://io.uitdatabank.be/events/{OTHER_EVENT}"]}
            uit.add(listed)
            _run(s, "uit", lambda _: UitdatabankSource(uit.url, client_id="t", account="cultuurnet",
                                                       settle_s=0))
        assert wait_until(lambda: set(uit_dates) <= set(latest(s, AVAILABILITY, "availability.avsc")),
                          STEP_S, interval=1)

        # The first date sells through Ticketmatic; its event names the UiT and the DIP id.
        account = f"schouwburg{uuid.uuid4().hex[:6]}"
        now = datetime.now(UTC) - timedelta(minutes=5)
        with FakeTicketmatic([
            tmf.event_item(tmf.stream_id(0), now, tmf.event_data(
                101, "Kommil Foo - OOGST", base, contingents=((89, 400),),
                custom_fields={"uitdatabankid": f"{event}#0", "dipid": f"{dip_prod}|1"})),
            tmf.order_item(tmf.stream_id(1), now, 9001, [tmf.order_ticket(t, 101) for t in (1, 2, 3)]),
        ], page_size=2, account=account) as tm:
            ids = IdFields.parse(["uit=c_uitdatabankid", "dip=c_dipid"])
            _run(s, "tm", eventstream(tm, account, id_fields=ids))
        linked = Identifier.dip(dip_prod, 1).key
        assert wait_until(lambda: latest(s, IDENTITY, "identity_link.avsc").get(linked), STEP_S, interval=1)

        # DIP lists the production: the first performance (the same show), and a second
        # one no other source knows.
        with FakeDip([(dip_production(dip_prod, "OOGST", datetime.now(UTC)),
                       [dip_performance(1, base, capacity=400),
                        dip_performance(2, base + timedelta(days=2), capacity=500)])]) as dip:
            _run(s, "dip", lambda _: DipCalendarSource(dip.url, account="dip"))

        def settled() -> dict[str, Any] | None:
            got = latest(s, AVAILABILITY, "availability.avsc")
            first = got.get(uit_dates[0]) or {}
            keys = set(first.get("production_keys") or ())
            return got if dip_only in got and f"dip-production|{dip_prod}" in keys \
                and first.get("sold") == 3 else None

        got = wait_until(settled, STEP_S, interval=1)
        assert got, f"the DIP description never reached {uit_dates[0]}"
        assert sorted(got) == sorted([*uit_dates, dip_only]), "three performances stay three"
        assert all(got.values()), "none withdrawn"

        gw = Gateway(s, host="127.0.0.1", port=0).start()
        try:
            with httpx.Client(base_url=gw.url, timeout=30) as http:
                assert wait_until(lambda: http.get("/healthz").status_code == 200, 60, interval=0.2)
                answers = {}
                for asked in (PRODUCTION, dip_prod, f"dip-production|{dip_prod}", OTHER_EVENT):
                    r = http.get(f"/v1/productions/{quote(asked, safe='')}/performances")
                    assert r.status_code == 200, r.text
                    answers[asked] = r.json()
                missing = http.get("/v1/productions/NL-00-0000-0/performances")
        finally:
            gw.close()
        for asked, body in answers.items():
            seats = {d["performance_id"]: d["remaining"] for d in body["items"]}
            assert seats == {uit_dates[0]: 397, uit_dates[1]: 300, dip_only: 500}, asked
            assert body["total"] == 3
            assert set(body["production_ids"]) == {
                f"uit-production|{PRODUCTION}", f"dip-production|{dip_prod.upper()}",
                f"uit-event|{event}", f"uit-event|{OTHER_EVENT}"}, asked
        assert missing.status_code == 404 and "NL-00-0000-0" in missing.json()["message"]
        assert worker.alive()
    finally:
        worker.stop()
