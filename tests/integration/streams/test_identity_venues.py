"""Acceptance (#13 item 1, venues): one Flemish venue listed as a UiTdatabank place, a DIP
theater and a Ticketmatic location is one venue on the venue topic, with why; a venue of
the same name in another postcode area stays apart (`cultuurbus identity venues` says so
and why); and the matcher then scores the
Ticketmatic location and the UiTdatabank place as one venue. Real broker, registry and
worker."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bus.kafka import make_producer
from bus.serde import AvroSerializer, Registry
from bus.settings import Settings
from bus.topics import IDENTITY, PERFORMANCES, VENUE_LINKS
from schemas.models import Identifier, Performance, Venue, utcnow

from .harness import Worker, latest, wait_until
from .test_identity_matching import _cli

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

STEP_S = 180

PLACE = Venue(id="5a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", name="Stadsschouwburg Brugge", city="Brugge",
              postcode="8000", country="BE")
THEATER = Venue(id="dip:theater:8812", name="Stadsschouwburg", city="Brugge", country="BE")
LOCATION = Venue(id="ticketmatic:brugge:location:7", name="Grote Zaal")
SITE = Venue(id="https://www.ccbrugge.be/#stadsschouwburg", name="Stadsschouwburg", city="Brugge",
             postcode="8000", country="BE")
KORTRIJK = Venue(id="0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e", name="Stadsschouwburg Brugge", city="Kortrijk",
                 postcode="8500", country="BE")
EVENT = "11111111-2222-4333-8444-555555555555"


class Calendar:
    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.ser = AvroSerializer(Registry(settings.registry), settings.topic_prefix + PERFORMANCES,
                                  "performance.avsc")
        self.producer = make_producer(settings.kafka)
        self.start = (utcnow() + timedelta(days=9)).replace(hour=19, minute=0, second=0, microsecond=0)

    def publish(self, system: str, primary: Identifier, venue: Venue, title: str = "De Kersentuin",
                *others: Identifier, hours: int = 0) -> None:
        perf = Performance(
            fact_id=f"{system}|{primary.key}", event_time=utcnow(), ingested_at=utcnow(), source_system=system,
            source_account="brugge", performance_key=primary.key, identifiers=[primary, *others], title=title,
            venue=venue, start=self.start + timedelta(hours=hours))
        self.producer.produce(self.s.topic_prefix + PERFORMANCES, key=primary.key.encode(), value=self.ser(perf))
        assert self.producer.flush(30) == 0


def _venues(s: Settings) -> dict[str, Any]:
    return latest(s, VENUE_LINKS, "venue_link.avsc")


def test_a_uit_place_a_dip_theater_and_a_ticketmatic_location_of_one_venue_are_one_canonical_venue(
        streams_settings: Settings, workdir: Path) -> None:
    s = streams_settings
    cal = Calendar(s)
    uit = Identifier.uit(EVENT, 0)
    worker = Worker("w1", s, workdir / "state", workdir / "w1.log").start()
    try:
        cal.publish("uitdatabank", uit, PLACE)
        cal.publish("dip", Identifier.dip("NL-26-0001-1", 1), THEATER, "De Kersentuin", uit)
        cal.publish("ticketmatic", Identifier.vendor("ticketmatic", "brugge", 5), LOCATION, "De Kersentuin", uit)
        cal.publish("schemaorg", Identifier(namespace="schemaorg:ccbrugge", value="hamlet"), SITE, "Hamlet",
                    hours=-48)
        cal.publish("uitdatabank", Identifier.uit("22222222-3333-4444-8555-666666666666", 0), KORTRIJK,
                    "Wachten op Godot")
        ids = {PLACE.id, THEATER.id, LOCATION.id, SITE.id, KORTRIJK.id}
        venues = wait_until(lambda: (v := _venues(s)) and set(v) == ids
                            and v[LOCATION.id]["canonical_id"] == THEATER.id
                            and v[SITE.id]["canonical_id"] == THEATER.id and v, STEP_S, interval=1)
        assert {venues[v]["canonical_id"] for v in (PLACE.id, THEATER.id, LOCATION.id, SITE.id)} == {THEATER.id}
        performance = latest(s, IDENTITY, "identity_link.avsc")[uit.key]["performance_id"]
        assert venues[LOCATION.id]["reason"] == "performance" and venues[LOCATION.id]["evidence"] == performance
        assert venues[SITE.id]["reason"] == "match" and venues[SITE.id]["score"] >= 90
        assert venues[KORTRIJK.id]["canonical_id"] == KORTRIJK.id  # same name, another postcode area
        listed = _cli(s, workdir, "venues")
        assert f"{LOCATION.id} -> {THEATER.id}  (performance via " in listed
        assert f"{SITE.id} -> {THEATER.id}  (match score " in listed
        assert listed.rstrip().endswith("5 venue id(s), 2 venue(s)")

        # The matcher now takes the Ticketmatic location for the UiTdatabank place: a vendor event
        # without any sector id scores venue 100 (the location alone would be neutral, 75).
        time.sleep(3)  # the worker's reader follows the venue topic
        cal.publish("uitdatabank", Identifier.uit("33333333-4444-4555-8666-777777777777", 0), PLACE, "Hamlet",
                    hours=24)
        tm = Identifier.vendor("ticketmatic", "brugge", 6)
        cal.publish("ticketmatic", tm, LOCATION, "Hamlet", hours=24)
        link = wait_until(lambda: latest(s, IDENTITY, "identity_link.avsc").get(tm.key), STEP_S, interval=1)
        assert link["reason"] == "match" and link["score"] == 100.0

        # A person: the web page's venue is not that theater (undo), and the Kortrijk place is
        # (accept, however wrong): both through the CLI, applied by the one venue agent.
        assert "venue undo sent" in _cli(s, workdir, "venue-undo", SITE.id, "--by", "anna")
        undone = wait_until(lambda: (v := _venues(s)) and v[SITE.id]["canonical_id"] == SITE.id and v,
                            STEP_S, interval=1)
        assert undone[SITE.id]["reason"] == "founded" and undone[LOCATION.id]["canonical_id"] == THEATER.id
        cal.publish("schemaorg", Identifier(namespace="schemaorg:ccbrugge", value="hamlet"), SITE, "Hamlet",
                    hours=-48)  # described again: the name still matches, the person's word stands
        _cli(s, workdir, "venue-accept", KORTRIJK.id, THEATER.id, "--by", "bert")
        joined = wait_until(lambda: (v := _venues(s)) and v[KORTRIJK.id]["canonical_id"] == THEATER.id and v,
                            STEP_S, interval=1)
        assert (joined[KORTRIJK.id]["reason"], joined[KORTRIJK.id]["evidence"]) == ("person", "bert")
        assert joined[SITE.id]["canonical_id"] == SITE.id
        with pytest.raises(AssertionError, match="no venue id"):
            _cli(s, workdir, "venue-undo", "nowhere:1")
    finally:
        worker.stop()
