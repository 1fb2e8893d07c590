"""Every performance description the connectors would publish for a season, without
services: the drivers' renderings passed through the real connectors' mapping functions.

Used by the matching bench and the simulator's tests: each ``Published`` carries the
``Performance`` as the connector maps it and, from the ground truth
(``realism.description_refs`` / ``realism.ref_of``), the season performance it
describes. Order: the calendar phase first (as ``simulate`` delivers it: DIP calendar,
UiTdatabank, schema.org pages, iCal feeds), then the vendors' own event items
(Ticketmatic), each in the order its source publishes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from bus.settings import Settings
from connectors.calendar.uitdatabank.mapping import map_event
from connectors.sdk.privacy import Pseudonymiser
from connectors.simulator.drivers.base import Env
from connectors.simulator.drivers.dipcalendar import DipCalendarDriver
from connectors.simulator.drivers.render import calendar_modified
from connectors.simulator.drivers.ticketmatic import ID_FIELDS, TicketmaticDriver
from connectors.simulator.drivers.uitdatabank import UitdatabankDriver
from connectors.simulator.drivers.venuepages import IcalDriver, SchemaOrgDriver
from connectors.simulator.model import TICKETMATIC, Season
from connectors.simulator.realism import description_refs, ref_of
from connectors.ticketing.dip.calendar_mapping import map_performance
from connectors.ticketing.eventstream.mapping import MappingEnv, map_item
from schemas.models import Performance

__all__ = ["Published", "mapped_descriptions", "published_descriptions"]

_PSEUDO = Pseudonymiser(SecretStr("simulator-descriptions-only-no-buyers"))


@dataclass(frozen=True)
class Published:
    """One description as a connector publishes it, and the performance it truly is."""

    source: str  # source kind (model constants)
    performance: Performance
    truth: str  # canonical id of the season performance it describes


def _mapped(season: Season) -> Iterator[tuple[str, Performance]]:
    env = Env(Settings(), season)
    for u in DipCalendarDriver(env).units():
        production, perfs = u.payload
        for perf in perfs:
            yield "dip-calendar", map_performance(production, perf, account="dip")
    for u in UitdatabankDriver(env).units():
        mapped = map_event(u.payload, account="uitdatabank-sim")
        if mapped.failures:
            raise ValueError(f"UiTdatabank event {mapped.event_uuid} did not map: {mapped.failures}")
        for fact in mapped.performances:
            yield "uitdatabank", fact
    for driver in (SchemaOrgDriver(env), IcalDriver(env)):
        for u in driver.units():
            venue, perfs = u.payload
            path, body, ctype = driver._document(venue, perfs)
            source: Any = driver._source(venue, "http://127.0.0.1:9" + path)
            try:
                for entry in source.entries(body.encode(), ctype, season.now):
                    yield driver.kind, entry.item.value
            finally:
                source.close()
    envs: dict[str, MappingEnv] = {}
    tm_driver = TicketmaticDriver(env)  # only the event items: orders describe nothing
    for p in sorted((p for p in season.performances if p.ticketing == TICKETMATIC),
                    key=lambda p: (calendar_modified(p, TICKETMATIC), p.canonical_id)):
        tm = envs.setdefault(p.account, MappingEnv(p.account, _PSEUDO, {}, id_fields=ID_FIELDS))
        for record in map_item(tm_driver._event(p), tm).records:
            yield "ticketmatic", record.value  # type: ignore[misc]


def mapped_descriptions(season: Season) -> list[tuple[str, Performance]]:
    """Every description of ``season`` the connectors publish, as ``(source kind,
    Performance)``, in publishing order (calendars first, then Ticketmatic event items);
    any identifier rules (linked or real), no ground truth needed."""
    return list(_mapped(season))


def published_descriptions(season: Season) -> list[Published]:
    """Every description of ``season`` the connectors publish, with its true performance.

    Raises:
        ValueError: a description the ground truth does not know (a simulator bug).

    """
    owner = {ref: p.canonical_id for p in season.performances
             for ref in description_refs(season, p).values()}
    out = []
    for kind, perf in _mapped(season):
        ref = ref_of(perf)
        if ref not in owner:
            raise ValueError(f"{kind} description {ref!r} is not in the ground truth")
        out.append(Published(kind, perf, owner[ref]))
    return out
