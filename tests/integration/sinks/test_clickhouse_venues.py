"""The sector comparison counts venues through the venue crosswalk: a group whose five
"venues" are three real venues listed under five ids and names is withheld, against the
real ClickHouse, with the venue links written by the sink's own mapping."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from bus.settings import Settings
from schemas.models import Performance, TicketEvent, Venue
from schemas.venue import VenueLink
from sinks.clickhouse.batch import Batch
from sinks.clickhouse.connect import connect_clickhouse
from sinks.clickhouse.migrate import migrate
from sinks.clickhouse.reports import benchmark_report
from sinks.clickhouse.rows import FACT_MAPPERS, Source, venue_link_row
from sinks.clickhouse.sink import ClickHouseSink
from tests.support.clickhouse import drop_database

pytestmark = pytest.mark.integration

DAY0 = datetime(2025, 9, 1, 20, tzinfo=UTC)
#: five venue ids (five names) of three venues: the Muziekgebouw twice, the Philharmonie twice
VENUES = [("dip:theater:1", "Muziekgebouw"), ("tm:a:location:3", "Grote Zaal"),
          ("dip:theater:2", "Philharmonie"), ("https://philharmonie.example/#zaal", "Philharmonie Haarlem"),
          ("dip:theater:3", "Toneelschuur")]
LINKS = {"tm:a:location:3": "dip:theater:1", "https://philharmonie.example/#zaal": "dip:theater:2"}


def _write(sink: ClickHouseSink, rows: list) -> None:  # type: ignore[type-arg]
    b = Batch()
    for i, row in enumerate(rows):
        b.mark("t", 0, i)
        b.add(row)
    sink.write(b)


def test_a_group_of_five_venue_ids_that_are_three_venues_is_withheld(topics: Settings) -> None:
    s = topics.model_copy(update={"clickhouse": topics.clickhouse.model_copy(
        update={"database": f"venues_{uuid.uuid4().hex[:8]}"})})
    client = connect_clickhouse(s.clickhouse)
    try:
        migrate(client)
        sink = ClickHouseSink(s)
        sink.client = client
        rows = []
        for i, (vid, name) in enumerate(VENUES):
            pid = f"P{i}"
            p = Performance(fact_id=f"cal-{pid}", event_time=DAY0, ingested_at=DAY0, source_system="dip",
                            source_account="dip", performance_key=pid, title=f"Concert {i}", genre="Klassiek",
                            venue=Venue(id=vid, name=name, city="Haarlem", region="Noord-Holland"),
                            start=DAY0 + timedelta(days=i), capacity=100)
            t = TicketEvent(fact_id=f"t{i}", event_type="SOLD", quantity=10, ticket_type="NORMAL", price_cents=2500,
                            event_time=DAY0 - timedelta(days=3), ingested_at=DAY0, source_system="eventix",
                            source_account="acc", performance_key=pid, channel="web")
            rows += [FACT_MAPPERS["performance"](p.to_avro(), Source(pid, 0, 2 * i)),
                     FACT_MAPPERS["ticket"](t.to_avro(), Source(pid, 0, 2 * i + 1))]
        _write(sink, rows)
        shown = {r["genre"] for r in benchmark_report(client, by=["genre"])[0].records()}
        assert shown == {"Klassiek"}  # five ids, five names: five venues as far as anyone knew

        _write(sink, [venue_link_row(VenueLink(
            venue_id=vid, canonical_id=canonical, reason="performance", evidence="P0", via=canonical,
            name="x", city="Haarlem", updated_at=DAY0).to_avro(), Source(vid, 0, i))
            for i, (vid, canonical) in enumerate(LINKS.items())])
        by_genre = benchmark_report(client, by=["genre"])[0]
        assert by_genre.records() == []
        assert any("suppressed" in n and "Klassiek" in n for n in by_genre.notes)
    finally:
        client.close()
        drop_database(s)
