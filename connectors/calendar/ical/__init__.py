"""iCalendar feeds (RFC 5545): performances from venue agendas that only export .ics."""

from connectors.calendar.ical.mapping import Feed, map_feed
from connectors.calendar.ical.source import IcalSource

__all__ = ["Feed", "IcalSource", "map_feed"]
