"""Box-office CSV rows -> ticket facts: headers, amounts, dates, reading, the ledger."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr

from connectors.sdk.errors import MappingError
from connectors.sdk.privacy import Pseudonymiser
from connectors.ticketing.csvfile.columns import HeaderError, map_header
from connectors.ticketing.csvfile.ledger import Ledger
from connectors.ticketing.csvfile.mapping import (
    RowEnv,
    map_row,
    parse_amount,
    parse_when,
    redacted_row,
)
from connectors.ticketing.csvfile.reader import CsvReader
from schemas.models import Identifier, TicketEventType, TicketType

AMS = ZoneInfo("Europe/Amsterdam")
HEADER = ["order_id", "ticket_id", "event_id", "dip_id", "performance_start", "action",
          "ticket_type", "price", "sold_at", "channel", "customer_id", "postcode", "country",
          "birthdate", "name", "email"]
COLUMNS = map_header(HEADER)


@pytest.fixture
def env() -> RowEnv:
    return RowEnv("stadsschouwburg", Pseudonymiser(SecretStr("unit-test-secret-0123456789")), AMS)


def _row(**kw: str) -> list[str]:
    base = {"order_id": "B-1001", "ticket_id": "T-5001", "event_id": "EV-77", "dip_id": "NL-24-0712-3|2",
            "performance_start": "2025-03-01 20:15", "action": "sale", "ticket_type": "Normaal",
            "price": "27,50", "sold_at": "2025-02-03 14:30:00", "channel": "web",
            "customer_id": "K-881", "postcode": "3511 NK", "country": "NL",
            "birthdate": "1984-05-17", "name": "Annelies Verhoeven",
            "email": "annelies.verhoeven@example.nl"}
    base.update(kw)
    return [base[h] for h in HEADER]


def test_a_sale_row_maps_to_one_sold_fact(env: RowEnv) -> None:
    fact = map_row(_row(), COLUMNS, env)
    assert fact.event_type == TicketEventType.SOLD and fact.quantity == 1
    assert fact.price_cents == 2750 and fact.ticket_type == TicketType.NORMAL
    assert fact.event_time == datetime(2025, 2, 3, 13, 30, tzinfo=UTC)  # Amsterdam winter time
    assert fact.performance_key == "vendor:boxoffice:stadsschouwburg|EV-77"
    assert Identifier.dip("NL-24-0712-3", 2) in fact.identifiers
    assert fact.order_id == "B-1001" and fact.ticket_ids == ["T-5001"] and fact.channel == "web"
    assert fact.fact_id == "boxoffice:stadsschouwburg:B-1001:T-5001:SOLD"


def test_the_buyer_is_pseudonymised_and_names_emails_and_dates_stay_out(env: RowEnv) -> None:
    fact = map_row(_row(), COLUMNS, env)
    assert fact.buyer is not None
    assert (fact.buyer.postcode_area, fact.buyer.country, fact.buyer.birth_year) == ("3511", "NL", 1984)
    text = fact.model_dump_json()
    for raw in ("Annelies", "Verhoeven", "annelies.verhoeven@example.nl", "1984-05-17", "3511 NK"):
        assert raw not in text


@pytest.mark.parametrize(("action", "kind"), [("refund", TicketEventType.REFUNDED),
                                              ("Retour", TicketEventType.REFUNDED),
                                              ("annulering", TicketEventType.CANCELLED),
                                              ("cancel", TicketEventType.CANCELLED),
                                              ("gescand", TicketEventType.SCANNED),
                                              ("verkoop", TicketEventType.SOLD)])
def test_actions_in_english_and_dutch(env: RowEnv, action: str, kind: TicketEventType) -> None:
    fact = map_row(_row(action=action), COLUMNS, env)
    assert fact.event_type == kind
    assert fact.fact_id.endswith(f":{kind.value}")


def test_the_same_ticket_sold_and_refunded_are_two_facts(env: RowEnv) -> None:
    assert map_row(_row(), COLUMNS, env).fact_id != map_row(_row(action="refund"), COLUMNS, env).fact_id


@pytest.mark.parametrize(("label", "price", "kind"), [("CJP", "12,50", TicketType.DISCOUNT),
                                                      ("Vrijkaart", "0", TicketType.FREE),
                                                      ("Relatiekaart", "0,00", TicketType.FREE),
                                                      ("Loge", "75", TicketType.OTHER)])
def test_ticket_type_labels(env: RowEnv, label: str, price: str, kind: TicketType) -> None:
    assert map_row(_row(ticket_type=label, price=price), COLUMNS, env).ticket_type == kind


def test_a_configured_label_wins(env: RowEnv) -> None:
    env.ticket_types["loge"] = TicketType.NORMAL
    assert map_row(_row(ticket_type="Loge"), COLUMNS, env).ticket_type == TicketType.NORMAL


@pytest.mark.parametrize(("text", "cents"), [("27,50", 2750), ("27.50", 2750), ("€ 1.234,50", 123450),
                                             ("1,234.50", 123450), ("", 0), ("30", 3000)])
def test_amounts_the_dutch_and_the_english_way(text: str, cents: int) -> None:
    assert parse_amount(text) == cents


@pytest.mark.parametrize("text", ["2025-03-01 20:15", "01-03-2025 20:15", "1/3/2025 20:15",
                                  "2025-03-01T20:15:00+01:00"])
def test_dates_iso_and_day_first(text: str) -> None:
    assert parse_when(text, AMS, "sold_at") == datetime(2025, 3, 1, 19, 15, tzinfo=UTC)


@pytest.mark.parametrize(("patch", "field"), [
    ({"action": "ruilen"}, "action"), ({"sold_at": "gisteren"}, "sold_at"),
    ({"price": "-27,50"}, "price"), ({"price": "gratis?"}, "price"),
    ({"ticket_id": ""}, "ticket_id"), ({"event_id": "", "dip_id": ""}, "event_id"),
    ({"event_id": "", "dip_id": "NL-24-0712-3"}, "dip_id"), ({"birthdate": "17 mei"}, "birthdate"),
    ({"performance_start": "zaterdag"}, "performance_start"),
])
def test_bad_rows_raise_naming_the_column(env: RowEnv, patch: dict, field: str) -> None:
    with pytest.raises(MappingError) as err:
        map_row(_row(**patch), COLUMNS, env)
    assert err.value.field == field


def test_a_row_that_does_not_line_up_is_refused(env: RowEnv) -> None:
    with pytest.raises(MappingError, match="fields but the header"):
        map_row(_row()[:-1], COLUMNS, env)


def test_dead_letter_bytes_mask_personal_columns_and_keep_the_rest() -> None:
    raw = redacted_row(_row(action="ruilen"), COLUMNS, ";")
    for value in (b"Annelies", b"verhoeven@example.nl", b"1984-05-17", b"3511 NK"):
        assert value not in raw
    assert b"ruilen" in raw and b"T-5001" in raw and b"27,50" in raw


def test_a_misaligned_row_is_masked_entirely() -> None:
    raw = redacted_row(["B-1", "T-1", "Annelies Verhoeven"], COLUMNS, ",")
    assert b"Annelies" not in raw and raw.count(b"[redacted]") == 3


def test_dutch_headers_map_to_the_same_columns() -> None:
    dutch = ["Bestelnummer", "Ticketnummer", "Voorstelling ID", "DIP", "Aanvang", "Actie",
             "Prijssoort", "Prijs", "Datum", "Verkoopkanaal", "Klantnummer", "Postcode", "Land",
             "Geboortedatum", "Naam", "E-mail"]
    assert map_header(dutch) == COLUMNS


def test_a_header_without_required_columns_is_refused() -> None:
    with pytest.raises(HeaderError, match="ticket_id"):
        map_header(["order_id", "action", "sold_at", "event_id"])
    with pytest.raises(HeaderError, match="event_id"):
        map_header(["ticket_id", "action", "sold_at"])


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_the_reader_keeps_each_rows_bytes_line_and_offset(tmp_path: Path) -> None:
    text = ('\ufeffticket_id;action;sold_at;event_id;naam\r\n'
            'T1;sale;2025-01-01;E;"Jan\r\nmet twee regels"\r\n'
            '\r\n'
            'T2;refund;2025-01-02;E;Piet\r\n')
    path = _write(tmp_path / "x.csv", text)
    with CsvReader(path) as reader:
        assert reader.delimiter == ";"
        assert reader.header[0] == "ticket_id"
        rows = list(reader.rows())
    assert [r.line for r in rows] == [2, 5]
    assert rows[0].values[4] == "Jan\r\nmet twee regels"
    assert rows[0].raw == b'T1;sale;2025-01-01;E;"Jan\r\nmet twee regels"\r\n'
    assert rows[1].end == len(text.encode())


def test_a_line_that_is_not_utf8_is_flagged_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"ticket_id,action,sold_at,event_id\nT1,sale,2025-01-01,Caf\xe9\nT2,sale,2025-01-01,E\n")
    with CsvReader(path) as reader:
        rows = list(reader.rows())
    assert [r.decoded for r in rows] == [False, True]


def test_the_ledger_recognises_the_same_file_an_extended_file_and_a_new_one(tmp_path: Path) -> None:
    head = "ticket_id,action,sold_at,event_id\n"
    a = _write(tmp_path / "a.csv", head + "T1,sale,2025-01-01,E\nT2,sale,2025-01-01,E\n")
    with CsvReader(a) as reader:
        rows = list(reader.rows())
        end, digest = reader.checkpoint()
    ledger = Ledger().record(Ledger.entry("a.csv", end, digest, len(rows), digest, len(rows)))
    assert ledger.resume(a).skip_file
    b = _write(tmp_path / "b.csv", a.read_text() + "T3,sale,2025-01-02,E\n")
    resume = ledger.resume(b)
    assert not resume.skip_file and resume.offset == end and resume.rows == 2
    c = _write(tmp_path / "c.csv", head + "T2,sale,2025-01-01,E\nT1,sale,2025-01-01,E\n")
    assert ledger.resume(c).offset == 0
    assert Ledger.from_position(ledger.to_position()).entries == ledger.entries
