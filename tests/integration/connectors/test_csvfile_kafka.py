"""Box-office CSV import against real Kafka: idempotent re-import, dead letters, privacy,
the CLI summary, throughput."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from prometheus_client import CollectorRegistry

from bus.serde import AvroDeserializer, Registry
from bus.settings import Settings
from bus.topics import CONNECT_POSITIONS, TICKET_EVENTS, dlq_of
from connectors.sdk.context import ConnectorContext
from connectors.ticketing.csvfile import CsvImporter, RowEnv
from connectors.ticketing.csvfile.cli import command
from tests.integration.connectors.readback import read_topic

pytestmark = pytest.mark.integration

PEOPLE = [  # name, e-mail, birth date, postcode
    ("Annelies Verhoeven", "annelies.verhoeven@example.nl", "17-05-1984", "3511 NK"),
    ("Jeroen Baksteen", "j.baksteen@example.com", "02-11-1961", "1015 DZ"),
    ("Sofie Van den Broeck", "sofie.vdb@example.be", "28-02-1999", "2000"),
]
HEADER = ("Bestelnummer;Ticketnummer;Voorstelling ID;DIP;Aanvang;Actie;Prijssoort;Prijs;Datum;"
          "Verkoopkanaal;Klantnummer;Postcode;Land;Geboortedatum;Naam;E-mail\n")
ACTIONS = ["verkoop", "verkoop", "verkoop", "retour", "gescand"]


def row(n: int, action: str | None = None, price: str | None = None, when: str | None = None) -> str:
    name, email, born, postcode = PEOPLE[n % len(PEOPLE)]
    return (f"B{n // 3};T{n};EV-{n % 4};NL-24-07{n % 4:02d}-1|{n % 4 + 1};01-03-2025 20:15;"
            f"{action or ACTIONS[n % len(ACTIONS)]};{'CJP' if n % 6 == 0 else 'Normaal'};"
            f"{price or '27,50'};{when or '03-02-2025 14:30'};web;K-{n % 50};{postcode};"
            f"{'BE' if postcode == '2000' else 'NL'};{born};{name};{email}\n")


def facts(settings: Settings, registry: Registry, venue: str) -> list[dict[str, Any]]:
    decode = AvroDeserializer(registry)
    out = [decode(m.value()) for m in read_topic(settings, TICKET_EVENTS)]
    return [f for f in out if f is not None and f["source_account"] == venue]


def _import(settings: Settings, venue: str, path: Path, name: str = "file") -> Any:
    ctx = ConnectorContext(settings, name, serve_metrics=False,
                           metrics_registry=CollectorRegistry()).open()
    try:
        env = RowEnv(venue, ctx.pseudonymiser, ZoneInfo("Europe/Amsterdam"))
        return CsvImporter(ctx.publisher, ctx.positions, env, batch_size=500).import_file(path)
    finally:
        ctx.close()


def test_importing_a_file_twice_publishes_nothing_the_second_time(
        topics: Settings, registry: Registry, tmp_path: Path) -> None:
    venue = f"schouwburg-{uuid.uuid4().hex[:6]}"
    path = tmp_path / "export.csv"
    path.write_text(HEADER + "".join(row(n) for n in range(30)), encoding="utf-8")
    first = _import(topics, venue, path)
    assert (first.published, first.dead_lettered) == (30, 0)
    second = _import(topics, venue, path)
    assert second.published == 0 and second.whole_file_skipped
    assert len(facts(topics, registry, venue)) == 30
    longer = tmp_path / "export-next-day.csv"
    longer.write_text(HEADER + "".join(row(n) for n in range(36)), encoding="utf-8")
    third = _import(topics, venue, longer)
    assert (third.published, third.skipped) == (6, 30)
    published = facts(topics, registry, venue)
    assert len(published) == len({f["fact_id"] for f in published}) == 36


def test_bad_rows_land_in_the_dlq_with_their_line_and_the_rest_is_published(
        topics: Settings, registry: Registry, tmp_path: Path) -> None:
    venue = f"schouwburg-{uuid.uuid4().hex[:6]}"
    path = tmp_path / f"{venue}.csv"
    rows = [row(0), row(1, when="morgenavond"), row(2, price="-27,50"), row(3, action="ruilen"), row(4)]
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    summary = _import(topics, venue, path)
    assert (summary.published, summary.dead_lettered) == (2, 3)
    letters = [m for m in read_topic(topics, dlq_of(TICKET_EVENTS))
               if path.name.encode() in dict(m.headers() or []).get("errors.source.position", b"")]
    where = sorted(dict(m.headers())["errors.source.position"].decode() for m in letters)
    assert where == [f"{path.name} line 3", f"{path.name} line 4", f"{path.name} line 5"]
    fields = sorted(dict(m.headers())["errors.field"].decode() for m in letters)
    assert fields == ["action", "price", "sold_at"]
    assert any(b"morgenavond" in m.value() for m in letters)
    assert len(facts(topics, registry, venue)) == 2


def test_no_name_email_birth_date_or_full_postcode_reaches_kafka(
        topics: Settings, registry: Registry, tmp_path: Path) -> None:
    venue = f"privacy-{uuid.uuid4().hex[:6]}"
    path = tmp_path / "export.csv"
    path.write_text(HEADER + "".join(row(n) for n in range(20)) + row(20, action="ruilen")
                    + "B9;T99;EV-1;verkoop;Annelies Verhoeven\n", encoding="utf-8")
    summary = _import(topics, venue, path)
    assert summary.published == 20 and summary.dead_lettered == 2
    raws = [m.value() or b"" for t in (TICKET_EVENTS, dlq_of(TICKET_EVENTS), CONNECT_POSITIONS)
            for m in read_topic(topics, t)]
    assert any(venue.encode() in r for r in raws)
    for name, email, born, postcode in PEOPLE:
        for value in (name, *name.split(" "), email, born, "-".join(reversed(born.split("-")))):
            if len(value) > 3:
                assert not any(value.encode() in r for r in raws), f"{value!r} reached Kafka"
        if not postcode.isdigit():
            assert not any(postcode.encode() in r for r in raws), f"{postcode!r} reached Kafka"
    buyers = [f["buyer"] for f in facts(topics, registry, venue) if f["buyer"]]
    assert {b["postcode_area"] for b in buyers} == {"3511", "1015", "2000"}


def test_the_cli_prints_a_summary_per_file(topics: Settings, tmp_path: Path) -> None:
    venue = f"cli-{uuid.uuid4().hex[:6]}"
    path = tmp_path / "nightly.csv"
    path.write_text(HEADER + "".join(row(n) for n in range(10)) + row(10, action="ruilen"),
                    encoding="utf-8")
    args = [str(path), "--venue", venue, "--no-progress"]
    first = CliRunner().invoke(command, args, obj=topics, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert "11 rows read, 10 published, 1 dead-lettered, 0 skipped as already imported" in first.output
    again = CliRunner().invoke(command, args, obj=topics, catch_exceptions=False)
    assert "0 published" in again.output and "11 skipped as already imported" in again.output


def test_throughput_of_the_csv_import_through_real_kafka(
        topics: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    venue = f"bench-{uuid.uuid4().hex[:6]}"
    path = tmp_path / "big.csv"
    path.write_text(HEADER + "".join(row(n) for n in range(5000)), encoding="utf-8")
    summary = _import(topics, venue, path)
    assert summary.published == 5000
    with capsys.disabled():
        print(f"\ncsv import: {summary.published} rows in {summary.seconds:.2f} s = "
              f"{summary.published / summary.seconds:,.0f} rows/s (batches of 500, acks=all)",
              file=sys.stderr)


def test_a_column_named_by_id_field_carries_its_sector_id_onto_the_facts(
        topics: Settings, registry: Registry, tmp_path: Path) -> None:
    venue = f"idfield-{uuid.uuid4().hex[:6]}"
    event = "5f0c7a3e-1b2d-4c8e-9a6f-0d1e2f3a4b5c"
    path = tmp_path / "export.csv"
    header = HEADER.rstrip("\n") + ";UiT-nummer\n"
    path.write_text(header + row(0).rstrip("\n") + f";{event.upper()}#2\n"
                    + row(1).rstrip("\n") + ";not an id\n", encoding="utf-8")
    args = [str(path), "--venue", venue, "--no-progress", "--id-field", "uit=UiT-nummer"]
    result = CliRunner().invoke(command, args, obj=topics, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "2 published" in result.output  # an unreadable id holds back no sale
    ids = sorted((f["fact_id"], [(i["namespace"], i["value"]) for i in f["identifiers"]])
                 for f in facts(topics, registry, venue))
    assert [i for _, i in ids] == [
        [("vendor:boxoffice:" + venue, "EV-0"), ("dip", "NL-24-0700-1|00001"), ("uit", f"{event}#2")],
        [("vendor:boxoffice:" + venue, "EV-1"), ("dip", "NL-24-0701-1|00002")]]
    bad = CliRunner().invoke(command, [*args[:-1], "uitnummer"], obj=topics)
    assert bad.exit_code == 2 and "NAMESPACE=FIELD" in bad.output
