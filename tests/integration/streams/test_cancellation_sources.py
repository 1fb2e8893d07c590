"""Acceptance: a show cancelled in UiTdatabank stays cancelled, on the availability topic
and on the last-minute topic, when the vendor's own event (which still says SCHEDULED)
is touched afterwards — against the real broker, with a real worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bus.kafka import make_producer
from bus.serde import AvroSerializer, Registry
from bus.settings import Settings
from bus.topics import AVAILABILITY, LASTMINUTE, PERFORMANCES
from schemas.models import Identifier, Performance, PerformanceStatus, Venue, utcnow

from .harness import Worker, latest, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

STEP_S = 180  # bound on each wait for the worker (startup included)


class Calendars:
    """Publishes calendar facts about one Flemish performance as two calendars see it:
    UiTdatabank (with capacity) and the vendor's own Ticketmatic event (without)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.now = utcnow()
        self.uit = Identifier.uit("5f0c7a3e-1b2d-4c8e-9a6f-0d1e2f3a4b5c", 0)
        self.vendor = Identifier.vendor("ticketmatic", "deschouwburg", 4711)
        self.start = self.now + timedelta(hours=6)  # inside the 48 h last-minute window
        self.ser = AvroSerializer(Registry(settings.registry), settings.topic_prefix + PERFORMANCES,
                                  "performance.avsc")
        self.producer = make_producer(settings.kafka)

    @property
    def performance_id(self) -> str:
        return self.uit.key  # the crosswalk prefers uit over vendor ids

    def publish(self, source: str, modified: datetime, status: PerformanceStatus) -> int:
        """One calendar fact; returns its event time in epoch ms."""
        uit = source == "uitdatabank"
        system, account = ("uitdatabank", "cultuurnet") if uit else ("ticketmatic", "deschouwburg")
        primary, other = (self.uit, self.vendor) if uit else (self.vendor, self.uit)
        perf = Performance(
            fact_id=f"{system}|{primary.key}|{modified.isoformat()}", event_time=modified,
            ingested_at=utcnow(), source_system=system, source_account=account,
            performance_key=primary.key, identifiers=[primary, other], title="De Kersentuin",
            genre="theater", venue=Venue(id="uit:place-1", name="Schouwburg", city="Gent",
                                         country="BE", region="Oost-Vlaanderen"),
            start=self.start, capacity=400 if uit else None, status=status)
        self.producer.produce(self.settings.topic_prefix + PERFORMANCES, key=primary.key.encode(),
                              value=self.ser(perf))
        assert self.producer.flush(30) == 0
        return int(modified.timestamp() * 1000)


def availability(settings: Settings, pid: str) -> dict[str, Any] | None:
    got: dict[str, Any] | None = latest(settings, AVAILABILITY, "availability.avsc").get(pid)
    return got


def after_fact(settings: Settings, pid: str, version: int) -> dict[str, Any]:
    """The availability record once the worker has taken ``version`` facts of ``pid``."""
    rec = wait_until(lambda: (r := availability(settings, pid)) is not None and r["version"] >= version
                     and r, STEP_S, interval=1)
    assert rec, f"the worker published no availability for {pid} with version {version}"
    assert rec["version"] == version, "every calendar fact here is news for its own calendar"
    return dict(rec)


def offers(settings: Settings) -> dict[str, Any]:
    return latest(settings, LASTMINUTE, "lastminute_offer.avsc")


def test_a_show_cancelled_in_uitdatabank_stays_cancelled_when_the_vendor_event_is_touched_later(
        streams_settings: Settings, workdir: Path) -> None:
    s = streams_settings
    cal = Calendars(s)
    pid = cal.performance_id
    worker = Worker("w1", s, workdir / "state", workdir / "w1.log").start()
    try:
        # The vendor's event exists first; UiTdatabank describes the show a day later.
        cal.publish("ticketmatic", cal.now - timedelta(days=3), PerformanceStatus.SCHEDULED)
        after_fact(s, pid, 1)
        cal.publish("uitdatabank", cal.now - timedelta(days=2), PerformanceStatus.SCHEDULED)
        rec = after_fact(s, pid, 2)
        assert (rec["status"], rec["capacity"]) == ("AVAILABLE", 400)
        offered = wait_until(lambda: (offers(s).get(pid) or None), STEP_S, interval=1)
        assert offered and offered["remaining"] == 400, "seats 6 h before the show are a last-minute offer"

        # The venue cancels in UiTdatabank: the offer is withdrawn.
        cal.publish("uitdatabank", cal.now - timedelta(hours=1), PerformanceStatus.CANCELLED)
        assert after_fact(s, pid, 3)["status"] == "CANCELLED"

        # Later the vendor's event is touched twice (its feed has no "cancelled").
        cal.publish("ticketmatic", cal.now - timedelta(minutes=30), PerformanceStatus.SCHEDULED)
        after_fact(s, pid, 4)
        touched = cal.publish("ticketmatic", cal.now - timedelta(minutes=10), PerformanceStatus.SCHEDULED)
        rec = after_fact(s, pid, 5)
        assert rec["last_fact_time"] == datetime.fromtimestamp(touched / 1000, UTC)
        assert (rec["status"], rec["uit_booking_availability_type"], rec["schema_org_availability"]) == (
            "CANCELLED", "Unavailable", "https://schema.org/Discontinued")

        # Everything the worker sent for the first touch is on the topics by now.
        final = offers(s)
        assert pid in final and final[pid] is None, \
            f"the last-minute topic must hold a tombstone for the cancelled show, not {final.get(pid)!r}"
        assert worker.alive()
    finally:
        worker.stop()
