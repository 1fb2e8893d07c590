"""The DIP calendar: every Dutch production with its performances on the fake DIP, read
by the real ``DipCalendarSource`` until it caught up.

Production: DIP id, title, season, genre, producer, ``updated`` = the newest
``render.calendar_modified`` of its performances (DIP stamps a production, not a
performance). Performance: number, local date, status ``agreed`` or ``cancellation``
(DIP cannot say postponed), type (the first is the premiere), theater (DIP id, name,
zipcode, city, province) and capacity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.fakes.dip import FakeDip, dip_performance, dip_production, dip_theater
from connectors.simulator.drivers.base import Driver, Unit, feed_and_drain, grouped
from connectors.simulator.drivers.render import calendar_modified, local_iso
from connectors.simulator.model import DIP_CALENDAR, SimPerformance
from connectors.ticketing.dip.calendar import DipCalendarSource

__all__ = ["DipCalendarDriver"]

_GENRES = {"toneel": "11", "dans": "12", "cabaret": "13", "muziektheater": "14", "klassiek": "15",
           "jeugd": "16", "opera": "17", "jazz": "18", "musical": "19"}


def _season_name(perf: SimPerformance) -> str:
    year = perf.start.year if perf.start.month >= 8 else perf.start.year - 1
    return f"{year}-{year + 1}"


class DipCalendarDriver(Driver):
    kind = DIP_CALENDAR
    connector = "dip"
    phase = "calendar"

    def units(self) -> list[Unit]:
        productions = grouped(self.env.season.performances,
                              lambda p: p.production_id if p.dip_number is not None else None)
        return [Unit(perfs[0].canonical_id, len(perfs), self._production(pid, perfs))
                for pid, perfs in productions.items()]

    def _production(self, pid: str, perfs: list[SimPerformance]
                    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        season = self.env.season
        prod = season.production(pid)
        perfs = sorted(perfs, key=lambda p: p.dip_number or 0)
        updated = max(calendar_modified(p, self.kind) for p in perfs)
        production = dip_production(pid, prod.title, updated, season=_season_name(perfs[0]),
                                    genre=(_GENRES.get(prod.genre, "10"), prod.genre),
                                    producer=(prod.producer_id, prod.producer))
        out = []
        for p in perfs:
            v = season.venue(p.venue)
            theater = dip_theater(str(v.dip_theater_id), v.name, v.zipcode, v.city,
                                  (v.province_id, v.province))
            out.append(dip_performance(
                int(p.dip_number or 0), local_iso(p.start),
                status="cancellation" if p.status == "CANCELLED" else "agreed",
                type="premiere" if p.dip_number == 1 else "normal", theater=theater,
                capacity=p.capacity))
        return production, out

    def start(self) -> None:
        self.fake = FakeDip(page_size=50).start()

    def deliver(self, units: Sequence[Unit]) -> None:
        feed_and_drain(self, units, lambda production: self.fake.put([production]),
                       lambda: DipCalendarSource(self.fake.url, account="dip-sim"), "dip-calendar")

    def close(self) -> None:
        fake = getattr(self, "fake", None)
        if fake is not None:
            fake.stop()
