"""Property tests of the box-office CSV import: any row becomes a fact the Avro contract
can encode or a ``MappingError`` naming its column; any bytes as a file become facts
and dead letters with their line number (or, for an unreadable header, a clear
``ExportFormatError`` before anything is published). The importer never crashes.

Hypothesis profile ``connectors-properties``: ``deadline=None``, ``max_examples=200``,
``derandomize=True`` (reproducible in CI), no example database.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import SecretStr

from connectors.sdk.errors import MappingError
from connectors.sdk.privacy import Pseudonymiser
from connectors.sdk.records import DeadLetter, SourceRecord
from connectors.sdk.window import EventTimeWindow
from connectors.ticketing.csvfile import CsvImporter, ExportFormatError, RowEnv
from connectors.ticketing.csvfile.mapping import map_row, parse_amount, parse_when
from tests.support.properties import PROFILE, encode
from tests.support.recording import KeptPositions

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
COLUMNS: list[str | None] = ["order_id", "ticket_id", "event_id", "dip_id", "action", "ticket_type",
                             "price", "sold_at", "performance_start", "channel", "customer_id",
                             "postcode", "country", "birthdate", "currency", "email", None]
EDGE = ["", " ", "\x00", "NaN", "-sNaN", "sNaN", "Infinity", "1e999999", "-0", "(5)", "€ 1.234,50",
        "9" * 5000, "0001-01-01", "0001-01-01T00:00:00", "9999-12-31T23:59:59-12:00",
        "9999-12-31 23:59", "31-12-9999 23:59", "01-01-0001", "29-02-2023", "1969-12-31",
        "2999-12-31T23:59:59Z", "NL-23-1234-5|3", "NL-23-1|" + "9" * 5000, "verkoop", "scan",
        "retour", "EUR", "eur", "XXXX", "Normaal", "3511 NK", "België", "\u00e9\u0301", "\ufeff"]
PLAUSIBLE = {
    "order_id": st.from_regex(r"B[0-9]{1,6}", fullmatch=True),
    "ticket_id": st.from_regex(r"T[0-9]{1,6}", fullmatch=True),
    "event_id": st.from_regex(r"EV-[0-9]{1,3}", fullmatch=True),
    "action": st.sampled_from(["verkoop", "sale", "refund", "annulering", "scan"]),
    "price": st.decimals(min_value=0, max_value=10**6, places=2).map(str),
    "sold_at": st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(  # noqa: DTZ001
        lambda d: d.strftime("%d-%m-%Y %H:%M") if d.year >= 1000 else d.isoformat()),
}
TEXT = st.one_of(st.text(max_size=20), st.sampled_from(EDGE))


def cell(column: str | None) -> st.SearchStrategy[str]:
    plausible = PLAUSIBLE.get(column or "")
    return st.one_of(plausible, plausible, TEXT) if plausible is not None else TEXT


ROWS = st.tuples(*(cell(c) for c in COLUMNS)).map(list)

#: The cells of a plausible sale row; every other column empty.
SALE = {"order_id": "B1", "ticket_id": "T1", "event_id": "EV-7", "action": "verkoop", "price": "5",
        "sold_at": "01-03-2025 20:00"}


def sale(**cells: str) -> list[str]:
    """A plausible sale row (a cell for every one of ``COLUMNS``, in order) with ``cells`` instead."""
    given = {**SALE, **cells}
    return [given.get(column or "", "") for column in COLUMNS]


def env() -> RowEnv:
    return RowEnv("stadsschouwburg", Pseudonymiser(SecretStr("unit-test-secret-0123456789")),
                  AMSTERDAM)


# -- mapping ---------------------------------------------------------------------------
@PROFILE
@given(ROWS)
@example(sale(price="1e999999"))
@example(sale(price="-sNaN"))
@example(sale(sold_at="9999-12-31T23:59:59-12:00"))
@example(sale(sold_at="0001-01-01"))
@example(sale(event_id="", dip_id="NL-23-1|" + "9" * 5000))
@example(sale(price="9" * 30))
def test_any_row_maps_to_an_encodable_fact_or_a_mapping_error_naming_its_column(row: list[str]) -> None:
    try:
        fact = map_row(row, COLUMNS, env())
    except MappingError as exc:
        assert exc.field in {c for c in COLUMNS if c} | {"row"}, exc.field
        return
    encode(fact)


@PROFILE
@given(TEXT)
@example("1e999999")
@example("-sNaN")
def test_any_amount_text_is_cents_in_the_contract_range_or_a_price_error(text: str) -> None:
    try:
        cents = parse_amount(text)
    except MappingError as exc:
        assert exc.field == "price"
        return
    assert 0 <= cents < 2**63


@PROFILE
@given(st.one_of(TEXT, PLAUSIBLE["sold_at"]))
@example("9999-12-31T23:59:59-12:00")
@example("0001-01-01")
def test_any_date_text_is_an_aware_utc_time_or_an_error_naming_the_column(text: str) -> None:
    try:
        when = parse_when(text, AMSTERDAM, "sold_at")
    except MappingError as exc:
        assert exc.field == "sold_at"
        return
    assert when.utcoffset() is not None and when.tzinfo is UTC


# -- the importer ----------------------------------------------------------------------
class RecordingPublisher:
    """Plays Kafka: records what would have been acknowledged."""

    def __init__(self) -> None:
        self.items: list[SourceRecord | DeadLetter] = []

    def publish(self, items: Sequence[SourceRecord | DeadLetter], timeout: float | None = None) -> None:
        self.items.extend(items)


HEADER = ";".join(c or "notes" for c in COLUMNS).encode() + b"\n"
GOOD_ROW = b"B1;T1;EV-7;;verkoop;Normaal;25,00;03-02-2025 14:30;;web;;;;;EUR;;\n"
BAD_BYTES = [b"\x00", b"\r", b"\xff\xfe", b'"', b"\n", b";", b"\r\n", b"x" * 200_000,
             b'"' + b"y" * 200_000 + b'"', b"\xe9", "€".encode(), b"\xef\xbb\xbf"]
CHUNKS = st.one_of(st.binary(max_size=40), st.sampled_from(BAD_BYTES), st.just(GOOD_ROW),
                   st.builds(lambda row: ";".join(row).encode() + b"\n", ROWS))
BODIES = st.lists(CHUNKS, max_size=8).map(b"".join)


def _import(data: bytes) -> tuple[Any, RecordingPublisher]:
    publisher = RecordingPublisher()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.csv"
        path.write_bytes(data)
        importer = CsvImporter(publisher, KeptPositions(), env())  # type: ignore[arg-type]
        return importer.import_file(path), publisher


def _check(summary: Any, publisher: RecordingPublisher, data: bytes) -> None:
    assert summary.rows_read == summary.published + summary.dead_lettered
    assert len(publisher.items) == summary.rows_read
    lines = data.count(b"\n") + 1
    for item in publisher.items:
        if isinstance(item, SourceRecord):
            encode(item.value)
            continue
        assert isinstance(item.raw, bytes) and len(item.raw) <= 600_000
        assert isinstance(item.error, MappingError) and item.error.field
        m = re.fullmatch(r"export\.csv line (\d+)", item.where or "")
        assert m and 2 <= int(m.group(1)) <= lines, item.where


@PROFILE
@given(BODIES)
@example(GOOD_ROW + b"B2;T2;EV-7;;verkoop;;1,00;03-02-2025 14:30\r;web;;;;;;;;\n" + GOOD_ROW)
@example(GOOD_ROW + b"B3;" + b"x" * 200_000 + b";EV-7\n" + GOOD_ROW)
@example(GOOD_ROW + b'B4;"unterminated;EV-7\n')
def test_any_bytes_after_a_good_header_become_facts_or_dead_letters_with_their_line(body: bytes) -> None:
    summary, publisher = _import(HEADER + body)
    _check(summary, publisher, HEADER + body)


@PROFILE
@given(st.one_of(st.binary(max_size=300), BODIES.map(lambda b: HEADER[:40] + b)))
@example(b"ticket_id;actie;datum;event_id\r;x\n")
@example(b"ticket_id;actie;datum;" + b"x" * 200_000 + b"\n")
def test_any_bytes_as_a_file_import_or_stop_with_a_clear_header_error(data: bytes) -> None:
    try:
        summary, publisher = _import(data)
    except ExportFormatError as exc:
        assert "export.csv" in str(exc)
        return
    _check(summary, publisher, data)


# -- the event-time window ---------------------------------------------------------------
WINDOW = EventTimeWindow(datetime(2000, 1, 1, tzinfo=UTC), timedelta(days=1))


@PROFILE
@given(ROWS)
@example(sale(sold_at="31-12-1999 23:59"))
@example(sale(sold_at="01-01-2999 00:00"))
def test_a_row_dated_outside_the_event_time_window_is_refused_naming_sold_at(row: list[str]) -> None:
    e = env()
    e.window = WINDOW
    try:
        fact = map_row(row, COLUMNS, e)
    except MappingError as exc:
        if "outside the accepted window" in str(exc):
            assert exc.field == "sold_at"
        return
    WINDOW.check(fact.event_time, "event_time")


def test_a_line_the_csv_reader_refuses_is_dead_lettered_with_its_line_and_every_field_masked() -> None:
    bad = b"B2;T2;EV-7;;verkoop;;1,00;03-02-2025\r 14:30;;web;;;;;;annelies@example.nl;\n"
    summary, publisher = _import(HEADER + GOOD_ROW + bad + GOOD_ROW.replace(b"T1", b"T3"))
    assert (summary.rows_read, summary.published, summary.dead_lettered) == (3, 2, 1)
    letter = next(i for i in publisher.items if isinstance(i, DeadLetter))
    assert letter.where == "export.csv line 3" and letter.error.field == "row"
    assert "not CSV" in str(letter.error) and b"annelies" not in letter.raw and b"B2" not in letter.raw
