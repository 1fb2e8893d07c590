"""Acceptance (#13 item 2): declared availability, through the real connectors, broker and
worker. A UiTdatabank date declared sold out, with no ticketing source, is SOLD_OUT on the
bus; a Ticketmatic event whose declared free seats differ from the sales the bus counted
is a reconciliation record, a drift metric on the worker, and the alert on a real
Prometheus scraping that worker."""

from __future__ import annotations

import shutil
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bus.settings import Settings
from bus.topics import AVAILABILITY, RECONCILIATION
from connectors.fakes import ticketmatic as tmf
from connectors.fakes.ticketmatic import FakeTicketmatic
from connectors.fakes.uitdatabank import FakeUitdatabank, uit_event, uit_uuid
from ops.prometheus.build import build
from ops.prometheus.config import RULES_DIR, default_cache_dir
from ops.prometheus.server import PrometheusServer
from ops.stack.ports import free_ports
from schemas.models import Identifier
from tests.support.sources import eventstream, run_source, run_uitdatabank

from .harness import REPO, Worker, latest, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(3600)]

STEP_S = 180
ALERT = "CultuurbusDeclaredAvailabilityDrift"


def _availability(settings: Settings) -> dict[str, Any]:
    return {k: v for k, v in latest(settings, AVAILABILITY, "availability.avsc").items() if v}


def test_a_date_declared_sold_out_in_uitdatabank_without_ticketing_is_sold_out_on_the_bus(
        streams_settings: Settings, workdir: Path) -> None:
    s = streams_settings
    base = (datetime.now(UTC) + timedelta(days=12)).replace(hour=20, minute=0, second=0, microsecond=0)
    worker = Worker("w1", s, workdir / "state", workdir / "w1.log").start()
    try:
        with FakeUitdatabank(client_id="t") as uit:
            uit.add(uit_event(11, starts=[base, base + timedelta(days=1)], modified=uit.tick(),
                              title="Volzet", capacities=[250, 250], remaining=[0, 120]))
            run_uitdatabank(s, uit)
        sold_out, open_ = (Identifier.uit(uit_uuid("event", 11), n).key for n in range(2))

        def both() -> dict[str, Any] | None:
            got = _availability(s)
            return got if {sold_out, open_} <= set(got) else None

        got = wait_until(both, STEP_S, interval=1)
        assert got, f"no availability for both dates: {_availability(s)}"
        first, second = got[sold_out], got[open_]
        assert (first["status"], first["remaining"], first["basis"], first["declared_status"]) == (
            "SOLD_OUT", 0, "declared", "SOLD_OUT")
        assert first["uit_booking_availability_type"] == "Unavailable"
        assert (second["status"], second["remaining"], second["capacity"], second["basis"]) == (
            "AVAILABLE", 120, 250, "declared")
        assert worker.alive()
    finally:
        worker.stop()


def _metric(port: int, name: str) -> float | None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:  # noqa: S310
        for line in resp.read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    return None


def _rules_firing_at_once(tmp: Path) -> Path:
    """The shipped rule file, with the drift alert's ``for`` cut to 0s (a test cannot wait
    30 minutes); the expression is the real one."""
    rules = yaml.safe_load((RULES_DIR / "cultuurbus.yml").read_text())
    hits = [r for g in rules["groups"] for r in g["rules"] if r.get("alert") == ALERT]
    assert len(hits) == 1
    hits[0]["for"] = "0s"
    tmp.mkdir()
    (tmp / "cultuurbus.yml").write_text(yaml.safe_dump(rules))
    return tmp


def test_a_ticketmatic_declaration_that_drifts_from_counted_sales_is_reconciled_and_alerts(
        streams_settings: Settings, workdir: Path) -> None:
    s = streams_settings
    start = (datetime.now(UTC) + timedelta(days=9)).replace(hour=19, minute=30, second=0, microsecond=0)
    account = f"drift{uuid.uuid4().hex[:6]}"
    sales_at = datetime.now(UTC) - timedelta(minutes=10)
    worker = Worker("w1", s, workdir / "state", workdir / "w1.log").start()
    try:
        # 10 tickets reach the bus; afterwards Ticketmatic says only 250 of 300 seats are free
        # (sales made before the bus was connected): computed 290, declared 250.
        feed = [tmf.order_item(tmf.stream_id(0), sales_at, 7001, [tmf.order_ticket(t, 501) for t in range(1, 11)]),
                tmf.event_item(tmf.stream_id(1), sales_at + timedelta(minutes=5), tmf.event_data(
                    501, "Drift", start, contingents=((89, 200), (90, 100)), free=(160, 90)))]
        with FakeTicketmatic(feed, page_size=10, account=account) as tm:
            run_source(s, "tm", eventstream(tm, account), poll_interval_s=0.05, backoff_max_s=0.3)
        pid = Identifier.vendor("ticketmatic", account, 501).key

        def drift() -> dict[str, Any] | None:  # once the 10 sales are counted (they wait for the event)
            rec = latest(s, RECONCILIATION, "reconciliation.avsc").get(pid)
            return rec if rec and rec["computed_sold"] == 10 else None

        found = wait_until(drift, STEP_S, interval=1)
        assert found, f"no reconciliation record; availability: {_availability(s).get(pid)}"
        assert (found["state"], found["drift"], found["computed_remaining"], found["declared_remaining"],
                found["declared_source"]) == ("DRIFT", 40, 290, 250, f"ticketmatic/{account}")
        shown = _availability(s)[pid]
        assert (shown["remaining"], shown["basis"], shown["declared_remaining"], shown["drift"]) == (
            290, "computed", 250, 40)
        assert _metric(worker.port, "cultuurbus_streams_declared_drift_performances") == 1.0
        assert _metric(worker.port, "cultuurbus_streams_declared_drifts_total") == 1.0

        binaries = build(default_cache_dir(root=REPO / ".stack"))
        (port,) = free_ports(1)
        server = PrometheusServer(workdir / "prometheus", port, {"streams": [f"127.0.0.1:{worker.port}"]},
                                  rules_dir=_rules_firing_at_once(workdir / "rules"), binaries=binaries,
                                  scrape_interval="1s")
        try:
            server.start(echo=lambda _: None)
            firing = wait_until(lambda: server.query(
                f'ALERTS{{alertname="{ALERT}",alertstate="firing"}}')["result"], 60, interval=1)
            assert firing and firing[0]["metric"]["job"] == "streams"
        finally:
            server.stop()
            shutil.rmtree(workdir / "prometheus", ignore_errors=True)
        assert worker.alive()
    finally:
        worker.stop()
