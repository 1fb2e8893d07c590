"""Row mapping, batches, dead-letter headers and rendering of the ClickHouse sink (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bus.errors import SerializationError
from sinks.clickhouse.batch import Batch, DeadLetter
from sinks.clickhouse.committing import backoff_delay
from sinks.clickhouse.decode import DERIVED_TOPICS
from sinks.clickhouse.dlq import dlq_headers
from sinks.clickhouse.errors import MappingError
from sinks.clickhouse.render import render
from sinks.clickhouse.reports import ReportTable
from sinks.clickhouse.rows import (
    COLUMNS,
    FACT_MAPPERS,
    Row,
    Source,
    lastminute_row,
    performance_row,
    snapshot_row,
    ticket_row,
)
from tests.support.dataset import buyer_hash, make_dataset

T0 = datetime(2025, 3, 1, 20, tzinfo=UTC)
T0_MS = 1_740_859_200_000  # T0 in epoch milliseconds


def _ticket(**over: object) -> dict:
    rec = {"fact_id": "f1", "event_type": "SOLD", "event_time": T0, "ingested_at": T0,
           "source_system": "eventix", "source_account": "a1", "performance_key": "vendor:eventix:a1|42",
           "identifiers": [], "quantity": 2, "ticket_type": "DISCOUNT", "price_cents": 1750,
           "currency": "EUR", "order_id": "o-9", "ticket_ids": ["t1", "t2"], "channel": "web",
           "buyer": {"id_hash": buyer_hash(1), "postcode_area": "1012", "country": "NL",
                     "birth_year": 1980}}
    rec.update(over)
    return rec


def test_ticket_fact_becomes_one_row_under_its_canonical_id_without_order_or_ticket_ids() -> None:
    row = ticket_row(_ticket(), Source("dip|NL-25-1-1|1", 3, 77))
    values = dict(zip(COLUMNS["ticket_facts"], row.values, strict=True))
    assert row.table == "ticket_facts"
    assert values["performance_id"] == "dip|NL-25-1-1|1"
    assert values["performance_key"] == "vendor:eventix:a1|42"
    assert (values["quantity"], values["ticket_type"], values["price_cents"]) == (2, "DISCOUNT", 1750)
    assert (values["postcode_area"], values["country"], values["birth_year"]) == ("1012", "NL", 1980)
    assert (values["kafka_partition"], values["kafka_offset"]) == (3, 77)
    assert "o-9" not in row.values and ["t1", "t2"] not in row.values
    assert row.event_time == T0_MS
    assert (values["event_time"], values["ingested_at"]) == (T0_MS, T0_MS)  # DateTime64(3) ticks


def test_timestamps_decoded_as_epoch_milliseconds_are_written_as_they_are() -> None:
    row = ticket_row(_ticket(event_time=T0_MS, ingested_at=T0_MS + 5), Source("p", 0, 0))
    values = dict(zip(COLUMNS["ticket_facts"], row.values, strict=True))
    assert (values["event_time"], values["ingested_at"]) == (T0_MS, T0_MS + 5)


def test_ticket_fact_without_buyer_or_channel_gets_empty_buyer_fields_and_unknown_channel() -> None:
    values = dict(zip(COLUMNS["ticket_facts"], ticket_row(_ticket(buyer=None, channel=None),
                                                           Source("p", 0, 0)).values, strict=True))
    assert (values["buyer_id_hash"], values["postcode_area"], values["birth_year"]) == ("", "", None)
    assert values["channel"] == "unknown"


@pytest.mark.parametrize("buyer, field", [
    ({"id_hash": "jan.jansen@example.org"}, "buyer.id_hash"),
    ({"id_hash": buyer_hash(2), "postcode_area": "1012 AB"}, "buyer.postcode_area"),
    ({"id_hash": buyer_hash(2), "birth_year": 19800101}, "buyer.birth_year"),
])
def test_a_buyer_that_is_not_pseudonymised_is_refused(buyer: dict, field: str) -> None:
    with pytest.raises(MappingError) as err:
        ticket_row(_ticket(buyer=buyer), Source("p", 0, 0))
    assert err.value.field == field


def test_negative_quantity_and_empty_canonical_id_are_refused() -> None:
    with pytest.raises(MappingError):
        ticket_row(_ticket(quantity=-1), Source("p", 0, 0))
    with pytest.raises(MappingError, match="canonical performance id"):
        ticket_row(_ticket(), Source("", 0, 0))


def test_snapshot_lines_become_parallel_arrays() -> None:
    rec = {"fact_id": "s1", "event_time": T0, "ingested_at": T0, "source_system": "dip",
           "source_account": "b", "performance_key": "dip|X|1", "identifiers": [],
           "lines": [{"ticket_type": "NORMAL", "tickets": 10, "revenue_cents": 25_000},
                     {"ticket_type": "FREE", "tickets": 2, "revenue_cents": 0}],
           "reservations": 3, "reservations_value_cents": 0, "blocked_seats": 1,
           "blocked_value_cents": 0, "capacity": None, "currency": "EUR"}
    values = dict(zip(COLUMNS["sales_snapshots"], snapshot_row(rec, Source("p1", 0, 5)).values,
                      strict=True))
    assert values["line_ticket_types"] == ["NORMAL", "FREE"]
    assert values["line_tickets"] == [10, 2]
    assert values["line_revenue_cents"] == [25_000, 0]
    assert values["capacity"] is None


def test_lastminute_tombstone_withdraws_the_offer_at_the_record_time() -> None:
    row = lastminute_row(None, Source("p1", 1, 9, timestamp_ms=1_740_000_000_000))
    values = dict(zip(COLUMNS["lastminute_offers"], row.values, strict=True))
    assert values["performance_id"] == "p1" and values["withdrawn"] == 1
    assert values["updated_at"] == 1_740_000_000_000
    assert values["kafka_offset"] == 9


def test_every_mapper_fills_exactly_the_columns_of_its_table() -> None:
    ds = make_dataset(performances=6, tickets=40)
    for kind, pid, model in ds.facts:
        row = FACT_MAPPERS[kind](model.to_avro(), Source(pid, 0, 1))
        assert len(row.values) == len(COLUMNS[row.table]), row.table
    for topic, key, model in ds.derived:
        _, mapper = DERIVED_TOPICS[topic]
        row = mapper(None if model is None else model.to_avro(), Source(key, 0, 1, 1))
        assert len(row.values) == len(COLUMNS[row.table]), row.table


def test_performance_without_end_or_capacity_maps_to_nulls() -> None:
    rec = {"fact_id": "c1", "event_time": T0, "ingested_at": T0, "source_system": "ical",
           "source_account": "feed", "performance_key": "ical|u1", "identifiers": [],
           "production_id": None, "title": "Hamlet", "genre": None,
           "venue": {"id": "v", "name": "Zaal", "city": None, "postcode": None, "country": "BE",
                     "region": None},
           "hall": None, "start": T0, "end": None, "capacity": None, "status": "SCHEDULED",
           "on_sale_from": None, "url": None}
    values = dict(zip(COLUMNS["performances"], performance_row(rec, Source("uit|e#0", 0, 0)).values,
                      strict=True))
    assert values["end_time"] is None and values["capacity"] is None
    assert (values["title"], values["country"], values["genre"]) == ("Hamlet", "BE", "")


def test_batch_token_is_stable_for_the_same_batch_and_differs_otherwise() -> None:
    def batch(offsets: list[tuple[str, int, int]]) -> Batch:
        b = Batch()
        for t, p, o in offsets:
            b.mark(t, p, o)
        return b

    a = batch([("facts", 0, 10), ("facts", 0, 11), ("facts", 1, 4)])
    again = batch([("facts", 1, 4), ("facts", 0, 10), ("facts", 0, 11)])
    other = batch([("facts", 0, 10), ("facts", 0, 12), ("facts", 1, 4)])
    assert a.token("g", "ticket_facts") == again.token("g", "ticket_facts")
    assert a.token("g", "ticket_facts") != other.token("g", "ticket_facts")
    assert a.token("g", "ticket_facts") != a.token("g", "performances")
    assert a.token("g", "ticket_facts") != a.token("other-group", "ticket_facts")
    assert list(a.next_offsets()) == [("facts", 0, 12), ("facts", 1, 5)]


def test_batch_is_due_when_full_or_old() -> None:
    b = Batch()
    assert not b.due(2, 1.0)
    b.mark("t", 0, 0)
    assert b.started is not None
    assert not b.due(2, 1.0, now=b.started + 0.5)
    assert b.due(2, 1.0, now=b.started + 1.0)
    b.mark("t", 0, 1)
    assert b.due(2, 1.0, now=b.started)


def test_batch_is_full_when_one_table_has_max_rows_or_records_reach_their_bound() -> None:
    b = Batch()
    for i, table in enumerate(["ticket_facts", "attendance", "performances"]):
        b.mark("t", 0, i)
        b.add(Row(table, (i,), 0))
    assert b.fullest() == 1
    assert not b.due(2, 60.0, max_records=10), "three tables with one row each: room for more"
    b.mark("t", 0, 3)
    b.add(Row("ticket_facts", (3,), 0))
    assert b.fullest() == 2 and b.due(2, 60.0, max_records=10), "ticket_facts has its 2 rows"
    skips = Batch()
    for i in range(9):
        skips.mark("t", 0, i)
    assert not skips.due(2, 60.0, max_records=10)
    skips.mark("t", 0, 9)
    assert skips.due(2, 60.0, max_records=10), "ten records without rows: the record bound"


def test_dead_letter_keeps_original_headers_and_says_where_and_why() -> None:
    letter = DeadLetter("p.participation.facts", b"\x01junk", SerializationError("unknown magic byte 1"),
                        "deserialize", key=b"k", partition=2, offset=41,
                        headers=[("cultuurbus.kind", b"ticket")], timestamp_ms=123)
    headers = dict(dlq_headers(letter, "sink-group"))
    assert headers["cultuurbus.kind"] == b"ticket"
    assert headers["errors.topic"] == b"p.participation.facts"
    assert (headers["errors.partition"], headers["errors.offset"]) == (b"2", b"41")
    assert headers["errors.stage"] == b"deserialize"
    assert headers["errors.exception.class"] == b"bus.errors.SerializationError"
    assert b"magic byte" in headers["errors.exception.message"]  # type: ignore[operator]
    assert headers["errors.consumer.group"] == b"sink-group"


def test_backoff_grows_and_stays_bounded() -> None:
    delays = [backoff_delay(n, cap=5.0) for n in range(1, 12)]
    assert delays[0] <= 0.5 and max(delays) <= 5.0
    assert delays[4] > delays[0]


def test_render_prints_aligned_tables_json_and_csv() -> None:
    t = ReportTable("by_genre", ["genre", "venues", "occupancy_pct"],
                    [("Toneel", 5, 61.5), ("Dans", 12, None)], ["suppressed: Opera"])
    text = render([t], "table").splitlines()
    assert text[0] == "== by_genre =="
    assert text[1].split() == ["genre", "venues", "occupancy_pct"]
    assert text[3].split() == ["Toneel", "5", "61.5"] and text[4].split() == ["Dans", "12", "-"]
    assert len(text[3]) == len(text[4])  # aligned
    assert "note: suppressed: Opera" in text
    doc = json.loads(render([t], "json"))
    assert doc["by_genre"]["rows"][1] == {"genre": "Dans", "venues": 12, "occupancy_pct": None}
    csv_lines = render([t], "csv").splitlines()
    assert csv_lines[:3] == ["# by_genre", "genre,venues,occupancy_pct", "Toneel,5,61.5"]
    with pytest.raises(ValueError):
        render([t], "xml")


def test_relative_embedded_paths_become_absolute_and_server_urls_stay() -> None:
    from pathlib import Path

    from sinks.clickhouse.connect import normalise_url

    assert normalise_url("chdb://.stack/clickhouse-embedded", Path("/srv/app")) == \
        "chdb:///srv/app/.stack/clickhouse-embedded"
    assert normalise_url("chdb:///var/lib/ch") == "chdb:///var/lib/ch"
    assert normalise_url("chdb://memory") == "chdb://memory"
    assert normalise_url("http://127.0.0.1:8123") == "http://127.0.0.1:8123"


class _Registry:
    """A registry that knows no schema id (404) or cannot be reached (503)."""

    def __init__(self, status: int) -> None:
        self.status = status

    def writer_schema(self, schema_id: int) -> object:
        from confluent_kafka.schema_registry.error import SchemaRegistryError as SRError

        from bus.errors import SchemaRegistryError

        try:
            raise SRError(self.status, 40403 if self.status == 404 else 50001, "nope")
        except SRError as exc:
            raise SchemaRegistryError(f"fetching schema id {schema_id}: {self.status}") from exc


def test_unknown_schema_id_is_bad_input_but_an_unreachable_registry_is_retried() -> None:
    import struct

    from bus.errors import RetriableError
    from sinks.clickhouse.decode import RecordDecoder

    value = b"\x00" + struct.pack(">I", 4242) + b"body"
    with pytest.raises(SerializationError, match="does not know"):
        RecordDecoder(_Registry(404), "p.").decode("p.participation.facts", b"k", value, 0, 0)  # type: ignore[arg-type]
    with pytest.raises(RetriableError):
        RecordDecoder(_Registry(503), "p.").decode("p.participation.facts", b"k", value, 0, 0)  # type: ignore[arg-type]


def test_tombstones_skip_state_topics_but_withdraw_offers_and_are_refused_as_facts() -> None:
    from sinks.clickhouse.decode import RecordDecoder, Skip

    d = RecordDecoder(_Registry(503), "p.")  # type: ignore[arg-type]
    assert d.decode("p.participation.availability", b"perf", None, 0, 1) == Skip("tombstone", withdraw="perf")
    offer = d.decode("p.participation.lastminute", b"perf", None, 0, 2, 1_700_000_000_000)
    assert not isinstance(offer, Skip) and offer.table == "lastminute_offers"
    with pytest.raises(SerializationError, match="null"):
        d.decode("p.participation.facts", b"perf", None, 0, 3)
    assert d.topics(with_unmatched=False) == [
        "p.participation.facts", "p.participation.availability", "p.participation.attendance",
        "p.participation.sales", "p.participation.lastminute", "p.participation.identity",
        "p.participation.identity.venues"]
