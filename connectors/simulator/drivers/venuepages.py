"""The venues' own calendars: schema.org JSON-LD agenda pages and iCal feeds, served
by one fake web site and read by the real ``SchemaOrgSource`` / ``IcalSource``.

Every item carries the canonical id and the ticketing vendor's id as tagged
identifiers (schema.org ``identifier``; iCal ``X-CULTUURBUS-ID``). Their modification
times follow ``render.calendar_modified``. iCal cannot say "postponed": a postponed
performance stays CONFIRMED there.

In a real season (``connectors.simulator.realism``) neither carries tagged identifiers:
items are named by the venue's own agenda path, titles are the venue's own variants,
``offers.url`` is the vendor's shop URL where the performance has a shop link, and a
venue without a ticketing connector declares ``remainingAttendeeCapacity`` and
``offers.availability``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from connectors.calendar.ical.source import IcalSource
from connectors.calendar.schemaorg.source import SchemaOrgSource
from connectors.fakes.calendars import FakeCalendarSite, ical_feed, schemaorg_page, theater_event, vevent
from connectors.simulator.drivers.base import ClosingSource, Driver, Env, Unit, drain, grouped
from connectors.simulator.drivers.render import calendar_modified, iso, local_iso, tags_of
from connectors.simulator.model import DECLARED, ICAL, SCHEMAORG, SimPerformance, VenueSpec
from connectors.simulator.realism import (
    declared_at,
    declared_remaining,
    declared_status,
    ical_uid,
    local_ref,
    schemaorg_id,
    shop_url,
    title_for,
    venue_name_for,
)
from connectors.simulator.season import LOCAL_TZ

__all__ = ["IcalDriver", "SchemaOrgDriver"]

_SCHEMA_STATUS = {"SCHEDULED": "EventScheduled", "CANCELLED": "EventCancelled",
                  "POSTPONED": "EventPostponed"}
_ICAL_STATUS = {"SCHEDULED": "CONFIRMED", "CANCELLED": "CANCELLED", "POSTPONED": "CONFIRMED"}
_Item = TypeVar("_Item")  # one performance as a document lists it


def _site(env: Env) -> FakeCalendarSite:
    site = env.shared_host("calendar-site", lambda: FakeCalendarSite().start())
    assert isinstance(site, FakeCalendarSite)
    return site


def _by_venue(env: Env, feed: str) -> dict[str, list[SimPerformance]]:
    venues = grouped(env.season.performances,
                     lambda p: p.venue if feed in env.season.venue(p.venue).calendar_feeds else None)
    return {k: sorted(v, key=lambda p: (p.start, p.canonical_id)) for k, v in venues.items()}


def _ical_utc(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _ical_local(t: datetime) -> str:
    return t.astimezone(LOCAL_TZ).strftime("%Y%m%dT%H%M%S")


class _PageDriver(Driver, Generic[_Item]):
    """A venue's own calendar document (the feed named like the driver's ``kind``)."""

    phase = "calendar"

    def _item(self, venue: VenueSpec, p: SimPerformance) -> _Item:
        """One performance as the document lists it."""
        raise NotImplementedError

    def _page(self, venue: VenueSpec, items: list[_Item]) -> tuple[str, str, str]:
        """(path, body, content type) of the venue's document listing ``items``."""
        raise NotImplementedError

    def _document(self, venue: VenueSpec, perfs: list[SimPerformance]) -> tuple[str, str, str]:
        return self._page(venue, [self._item(venue, p) for p in perfs])

    def _source(self, venue: VenueSpec, url: str) -> ClosingSource:
        raise NotImplementedError

    def units(self) -> list[Unit]:
        season = self.env.season
        return [Unit(perfs[0].canonical_id, len(perfs), (season.venue(key), perfs))
                for key, perfs in _by_venue(self.env, self.kind).items()]

    def deliver(self, units: Sequence[Unit]) -> None:
        site = _site(self.env)
        ctx = self.env.context(self.connector)
        try:
            for u in units:
                venue, perfs = u.payload
                self.env.pacer.wait(u.facts)
                path, body, ctype = self._document(venue, perfs)
                url = site.put(path, body, ctype, last_modified=self.env.season.now)
                source = self._source(venue, url)
                try:
                    drain(self.env, ctx, source, self.stats)
                finally:
                    source.close()
                self.stats.units += 1
        finally:
            ctx.close()

    def close(self) -> None:
        site = self.env.shared.pop("calendar-site", None)
        if site is not None:
            site.close()


class SchemaOrgDriver(_PageDriver[dict[str, Any]]):
    kind = SCHEMAORG
    connector = "schemaorg"

    def _item(self, venue: VenueSpec, p: SimPerformance) -> dict[str, Any]:
        season = self.env.season
        real, declared = season.real, season.real and p.ticketing == DECLARED
        modified = calendar_modified(p, self.kind)
        own_shop = (f"{venue.url}/tickets/{local_ref(season, p)}" if real
                    else f"{venue.url}/tickets/{p.vendor_id or p.dip_number}")
        return theater_event(
            title_for(season, p, self.kind), local_iso(p.start), end=local_iso(p.end),
            event_id=schemaorg_id(season, p),
            status=_SCHEMA_STATUS[p.status], venue=venue_name_for(season, p, self.kind),
            street="Schouwburgplein 1",
            postcode=venue.zipcode, city=venue.city, country=venue.country,
            capacity=p.capacity,
            remaining=declared_remaining(season, p) if declared else None,
            availability=declared_status(season, p) if declared else "InStock",
            offer_url=(shop_url(season, p) if p.shop_link else None) or own_shop,
            valid_from=local_iso(p.on_sale), identifier=None if real else tags_of(p),
            modified=iso(declared_at(season, p, modified) if declared else modified))

    def _page(self, venue: VenueSpec, items: list[dict[str, Any]]) -> tuple[str, str, str]:
        return (f"/{venue.key}/agenda.html", schemaorg_page(items, title=f"Agenda {venue.name}"),
                "text/html; charset=utf-8")

    def _source(self, venue: VenueSpec, url: str) -> ClosingSource:
        return SchemaOrgSource(url, account=venue.key, country=venue.country)


class IcalDriver(_PageDriver[str]):
    kind = ICAL
    connector = "ical"

    def _item(self, venue: VenueSpec, p: SimPerformance) -> str:
        season = self.env.season
        page = local_ref(season, p) if season.real else p.canonical_id.replace('|', '-')
        return vevent(
            ical_uid(season, p), _ical_local(p.start),
            summary=title_for(season, p, self.kind),
            end=_ical_local(p.end), status=_ICAL_STATUS[p.status],
            location=p.hall, url=f"{venue.url}/agenda/{page}",
            last_modified=_ical_utc(calendar_modified(p, self.kind)),
            extra=[] if season.real else [f"X-CULTUURBUS-ID:{tag}" for tag in tags_of(p)])

    def _page(self, venue: VenueSpec, items: list[str]) -> tuple[str, str, str]:
        return (f"/{venue.key}/agenda.ics", ical_feed(items, name=venue.name),
                "text/calendar; charset=utf-8")

    def _source(self, venue: VenueSpec, url: str) -> ClosingSource:
        now = self.env.season.now
        return IcalSource(url, name=venue.key, venue_name=venue.name, venue_id=venue.key,
                          venue_city=venue.city, venue_postcode=venue.zipcode,
                          venue_country=venue.country, horizon_days=60, lookback_days=60,
                          clock=lambda: now)
