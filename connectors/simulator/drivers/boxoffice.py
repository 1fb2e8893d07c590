"""Box-office CSV: each venue's export file, written in the season's delivery order and
imported by the real ``CsvImporter`` as a re-export grows (every 1,000 rows appended,
the import runs again and publishes only the new rows).

A Dutch export: semicolon-separated, Dutch headers, one row per ticket (``verkoop``,
``retour``, ``annulering``, ``scan``), day-first local times, ``27,50`` amounts, the
DIP id in its own column (Dutch venues; the export has no UiT column), and the
customer's name, e-mail, phone, address, postcode, city, country and birth date as box
offices export them.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from connectors.simulator.drivers.base import Driver, SimulationError, Unit
from connectors.simulator.drivers.render import canonical_value, in_delivery_order
from connectors.simulator.granularity import ticket_facts
from connectors.simulator.model import BOXOFFICE_CSV, TicketHappening
from connectors.simulator.realism import title_for, vendor_field_value
from connectors.simulator.season import LOCAL_TZ
from connectors.ticketing.csvfile.importer import CsvImporter
from connectors.ticketing.csvfile.mapping import RowEnv

__all__ = ["HEADER", "REAL_HEADER", "BoxOfficeDriver"]

HEADER = ["bestelnummer", "ticketnummer", "voorstelling_id", "dip_id", "voorstelling", "aanvang",
          "actie", "tarief", "prijs", "datum", "verkoopkanaal", "klantnummer", "voornaam",
          "achternaam", "e-mail", "telefoon", "adres", "postcode", "woonplaats", "land",
          "geboortedatum"]
#: A real season's export: Flemish venues keep the UiTdatabank id in a column of their own.
REAL_HEADER = [*HEADER, "uit_id"]
_ACTIONS = {"SOLD": "verkoop", "REFUNDED": "retour", "CANCELLED": "annulering", "SCANNED": "scan"}
_TARIFFS = {"NORMAL": "regulier", "DISCOUNT": "cjp", "FREE": "vrijkaart", "OTHER": "overig"}
_CHUNK = 1000


def _local(t: Any) -> str:
    return str(t.astimezone(LOCAL_TZ).strftime("%d-%m-%Y %H:%M:%S"))


def _euros(cents: int) -> str:
    return f"{cents // 100},{cents % 100:02d}"


class BoxOfficeDriver(Driver):
    kind = BOXOFFICE_CSV
    connector = "file"

    def _rows(self, h: TicketHappening) -> list[list[str]]:
        season = self.env.season
        p = season.performance(h.performance)
        c = season.customer(h.customer_id) if h.customer_id else None
        person = ([c.id, c.first_name, c.last_name, c.email, c.phone, c.street, c.postcode,
                   c.city, c.country, c.birthdate.isoformat()] if c else [""] * 10)
        if season.real:  # the venue's own title; the UiT id in an extra column (REAL_HEADER)
            dip = (vendor_field_value(p) or "") if p.vendor_field == "dip" else ""
            extra = [(vendor_field_value(p) or "") if p.vendor_field == "uit" else ""]
            title = title_for(season, p, self.kind)
        else:
            dip = canonical_value(p) if p.dip_number is not None else ""
            extra, title = [], season.production(p.production_id).title
        return [[h.order_id, t, str(p.vendor_id), dip, title, _local(p.start),
                 _ACTIONS[h.event_type], _TARIFFS[h.ticket_type], _euros(h.price_cents),
                 _local(h.event_time), h.channel, *person, *extra] for t in h.ticket_ids]

    def units(self) -> list[Unit]:
        return [Unit(h.performance, ticket_facts(self.kind, h), self._rows(h))
                for h in in_delivery_order(self.env.season, self.kind)]

    def deliver(self, units: Sequence[Unit]) -> None:
        season = self.env.season
        by_venue: dict[str, list[Unit]] = defaultdict(list)
        for u in units:
            by_venue[season.performance(u.perf).account].append(u)
        ctx = self.env.context(self.connector)
        try:
            with tempfile.TemporaryDirectory(prefix="cultuurbus-boxoffice-") as tmp:
                for venue, mine in sorted(by_venue.items()):
                    self._export(ctx, venue, mine, Path(tmp) / f"{venue}-export.csv")
        finally:
            ctx.close()

    def _export(self, ctx: Any, venue: str, units: list[Unit], path: Path) -> None:
        importer = CsvImporter(ctx.publisher, ctx.positions,
                               RowEnv(venue, ctx.pseudonymiser, LOCAL_TZ), batch_size=500)
        with path.open("w", encoding="utf-8", newline="") as f:
            csv.writer(f, delimiter=";", lineterminator="\r\n").writerow(
                REAL_HEADER if self.env.season.real else HEADER)
        rows_in_chunk = 0
        chunk = io.StringIO()
        writer = csv.writer(chunk, delimiter=";", lineterminator="\r\n")
        for n, u in enumerate(units):
            writer.writerows(u.payload)
            rows_in_chunk += len(u.payload)
            if rows_in_chunk >= _CHUNK or n == len(units) - 1:
                self.env.pacer.wait(rows_in_chunk)
                with path.open("a", encoding="utf-8", newline="") as f:
                    f.write(chunk.getvalue())
                summary = importer.import_file(path)
                self.stats.add(summary.published, refused=summary.dead_lettered)
                self.env.progress(summary.published)
                if summary.dead_lettered:
                    raise SimulationError(f"{path.name}: {summary.dead_lettered} rows "
                                          "dead-lettered by the importer")
                chunk = io.StringIO()
                writer = csv.writer(chunk, delimiter=";", lineterminator="\r\n")
                rows_in_chunk = 0
        self.stats.units += len(units)
