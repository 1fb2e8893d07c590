"""Times as a person in the Netherlands or Flanders reads them.

Facts travel in UTC; wherever a person reads a time (the demo's live table, reports,
the board) it is shown in the venue's local time and labelled with its zone, so 19:15
is never taken for 20:15. Amsterdam and Brussels share their offsets all year, so one
zone serves both countries; ``zone_of`` still names the right one for a venue.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

__all__ = ["LOCAL_TZ", "local_text", "zone_of"]

LOCAL_TZ = ZoneInfo("Europe/Amsterdam")
_ZONES = {"NL": LOCAL_TZ, "BE": ZoneInfo("Europe/Brussels")}


def zone_of(country: str | None) -> ZoneInfo:
    """The venue's zone: Europe/Brussels for ``BE``, else Europe/Amsterdam."""
    return _ZONES.get((country or "NL").upper(), LOCAL_TZ)


def local_text(value: datetime, country: str | None = None, fmt: str = "%a %d %b %H:%M") -> str:
    """``2025-06-01T18:30Z`` -> ``Sun 01 Jun 20:30 CEST``: local time, labelled."""
    local = value.astimezone(zone_of(country))
    return f"{local.strftime(fmt)} {local.tzname()}"
