"""UiTdatabank: every Flemish performance on the fake Search API, polled by the real
``UitdatabankSource`` until it caught up.

One UiT event per (production, venue), one ``subEvent`` per performance (index =
the performance's ``uit_index``), with capacity in ``bookingAvailability`` and status
``Unavailable`` (cancelled) / ``TemporarilyUnavailable`` (postponed). Labels tag each
subEvent with the ticketing vendor's id (``vendor:<system>:<account>:<id>@<index>``)
so vendor-only ticket facts can be tied. ``modified`` = the newest
``render.calendar_modified`` of its subEvents. ``production`` (a uuid of UiT's own) lists
in ``otherEvents`` the ``@id`` of every other UiT event of the production (other venues,
dates with an event of their own), as UiTdatabank does; an event that is its production's
only one has no ``production``.

In a real season (``connectors.simulator.realism``) no labels: a performance with a shop
link is an event of its own whose ``bookingInfo.url`` is the vendor's shop URL; titles
and venue names are UiT's own variants; ``remainingCapacity`` is declared only by venues
without a ticketing connector (as of their last sale).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from connectors.calendar.uitdatabank.source import UitdatabankSource
from connectors.fakes.uitdatabank import IO, FakeUitdatabank, uit_event
from connectors.simulator.drivers.base import Driver, Unit, feed_and_drain, grouped
from connectors.simulator.drivers.render import calendar_modified, iso, tags_of
from connectors.simulator.model import DECLARED, UITDATABANK, SimPerformance
from connectors.simulator.realism import (
    declared_at,
    declared_remaining,
    shop_url,
    title_for,
    venue_name_for,
)

__all__ = ["UitdatabankDriver"]

_API_KEY = "simulator-uit-key"
_EVENTTYPES = {"dans": ("0.54.0.0.0", "Dansvoorstelling"), "klassiek": ("0.50.4.0.0", "Concert"),
               "jazz": ("0.50.4.0.0", "Concert")}
_THEATRE = ("0.55.0.0.0", "Theatervoorstelling")
_SUB_STATUS = {"SCHEDULED": "Available", "CANCELLED": "Unavailable",
               "POSTPONED": "TemporarilyUnavailable"}


class UitdatabankDriver(Driver):
    kind = UITDATABANK
    connector = "uitdatabank"
    phase = "calendar"

    def units(self) -> list[Unit]:
        events = grouped(self.env.season.performances, lambda p: p.uit_event)
        events_of: dict[str, list[str]] = defaultdict(list)  # production -> its UiT events
        for uuid, perfs in events.items():
            events_of[perfs[0].production_id].append(uuid)
        return [Unit(perfs[0].canonical_id, len(perfs), self._event(uuid, perfs, events_of))
                for uuid, perfs in events.items()]

    def _event(self, uuid: str, perfs: list[SimPerformance], events_of: dict[str, list[str]]
               ) -> dict[str, Any]:
        season = self.env.season
        perfs = sorted(perfs, key=lambda p: p.uit_index or 0)
        prod = season.production(perfs[0].production_id)
        venue = season.venue(perfs[0].venue)
        real = season.real
        modified = max(declared_at(season, p, calendar_modified(p, self.kind))
                       if real and p.ticketing == DECLARED else calendar_modified(p, self.kind)
                       for p in perfs)
        labels = [] if real else [f"{tag}@{p.uit_index}" for p in perfs for tag in tags_of(p)[1:]]
        ev = uit_event(0, starts=[p.start for p in perfs], modified=modified,
                       title=title_for(season, perfs[0], self.kind),
                       capacities=[p.capacity for p in perfs],
                       remaining=[p.capacity for p in perfs],
                       sub_statuses=[_SUB_STATUS[p.status] for p in perfs],
                       labels=labels, on_sale=min(p.on_sale for p in perfs))
        ev["@id"] = f"{IO}/event/{uuid}"
        for sub, p in zip(ev["subEvent"], perfs, strict=True):
            sub["endDate"] = iso(p.end)
            if real and p.ticketing == DECLARED:
                left = declared_remaining(season, p)
                sub["bookingAvailability"].update(remainingCapacity=left,
                                                  type="Available" if left else "Unavailable")
            elif real:
                sub["bookingAvailability"] = {"type": "Available", "capacity": p.capacity}
        ev["endDate"] = iso(max(p.end for p in perfs))
        ev["location"].update({
            "@id": f"{IO}/place/{venue.uit_place_uuid}",
            "name": {"nl": venue_name_for(season, perfs[0], self.kind)},
            "address": {"nl": {"addressCountry": "BE", "addressLocality": venue.city,
                               "postalCode": venue.zipcode, "streetAddress": "Kunstlaan 1"}}})
        ev["organizer"] = {"@id": f"{IO}/organizers/{venue.uit_place_uuid}",
                           "name": {"nl": venue.name}}
        type_id, label = _EVENTTYPES.get(prod.genre, _THEATRE)
        ev["terms"][0] = {"id": type_id, "label": label, "domain": "eventtype"}
        # UiTdatabank names a production by its own uuid, never by the DIP production id; it
        # links two or more events, each listing the others' @ids (otherEvents)
        others = [f"{IO}/event/{other}" for other in events_of[prod.id] if other != uuid]
        if others:
            ev["production"] = {"id": str(uuid5(NAMESPACE_URL, f"{IO}/production/{prod.id}")),
                                "title": prod.title, "otherEvents": others}
        else:
            ev.pop("production", None)
        link = shop_url(season, perfs[0]) if len(perfs) == 1 and perfs[0].shop_link else None
        ev["bookingInfo"]["url"] = link or f"{venue.url}/tickets/{uuid}"
        ev["sameAs"] = [f"http://www.uitinvlaanderen.be/agenda/e/{prod.id.lower()}/{uuid}"]
        return ev

    def start(self) -> None:
        self.fake = FakeUitdatabank(api_key=_API_KEY).start()

    def deliver(self, units: Sequence[Unit]) -> None:
        def source() -> UitdatabankSource:
            return UitdatabankSource(self.fake.url, api_key=_API_KEY, account="uitdatabank-sim",
                                     settle_s=0, connector=self.env.connector_name(self.connector))

        feed_and_drain(self, units, self.fake.add, source, self.connector)

    def close(self) -> None:
        fake = getattr(self, "fake", None)
        if fake is not None:
            fake.close()
