"""Importing box-office exports: idempotence per file, appended re-exports, crash resume,
dead letters — with Kafka played by a recording publisher."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr

from bus.errors import DeliveryError
from connectors.sdk.privacy import Pseudonymiser
from connectors.sdk.records import DeadLetter, SourceRecord
from connectors.ticketing.csvfile import CsvImporter, ExportFormatError, RowEnv
from tests.support.recording import KeptPositions

HEADER = "bestelnummer;ticketnummer;voorstelling_id;actie;prijssoort;prijs;datum;naam;e-mail;postcode;geboortedatum\n"


def row(n: int, action: str = "verkoop", price: str = "25,00", when: str = "03-02-2025 14:30") -> str:
    return (f"B{n // 2};T{n};EV-7;{action};Normaal;{price};{when};Annelies Verhoeven;"
            f"annelies{n}@example.nl;3511 NK;17-05-1984\n")


class Publisher:
    def __init__(self, fail_on_call: int | None = None) -> None:
        self.items: list[SourceRecord | DeadLetter] = []
        self.calls = 0
        self.fail_on_call = fail_on_call

    def publish(self, items: Sequence[SourceRecord | DeadLetter], timeout: float | None = None) -> None:
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise DeliveryError("not acknowledged (test)")
        self.items.extend(items)

    def facts(self) -> list[Any]:
        return [i.value for i in self.items if isinstance(i, SourceRecord)]

    def letters(self) -> list[DeadLetter]:
        return [i for i in self.items if isinstance(i, DeadLetter)]


def _importer(publisher: Publisher, positions: KeptPositions, batch_size: int = 1000) -> CsvImporter:
    env = RowEnv("stadsschouwburg", Pseudonymiser(SecretStr("unit-test-secret-0123456789")),
                 ZoneInfo("Europe/Amsterdam"))
    return CsvImporter(publisher, positions, env, batch_size=batch_size)  # type: ignore[arg-type]


def _file(tmp_path: Path, name: str, rows: list[str]) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


def test_importing_the_same_file_twice_publishes_nothing_the_second_time(tmp_path: Path) -> None:
    path = _file(tmp_path, "export.csv", [row(n) for n in range(10)])
    publisher, positions = Publisher(), KeptPositions()
    first = _importer(publisher, positions).import_file(path)
    assert (first.rows_read, first.published, first.dead_lettered, first.skipped) == (10, 10, 0, 0)
    second = _importer(publisher, positions).import_file(path)
    assert second.published == 0 and second.whole_file_skipped and second.skipped == 10
    assert len(publisher.facts()) == 10
    assert "10 skipped as already imported" in second.line()


def test_the_same_file_under_another_name_is_recognised(tmp_path: Path) -> None:
    rows = [row(n) for n in range(5)]
    publisher, positions = Publisher(), KeptPositions()
    _importer(publisher, positions).import_file(_file(tmp_path, "maandag.csv", rows))
    again = _importer(publisher, positions).import_file(_file(tmp_path, "kopie.csv", rows))
    assert again.whole_file_skipped and len(publisher.facts()) == 5


def test_a_re_export_with_more_rows_publishes_only_the_new_ones(tmp_path: Path) -> None:
    publisher, positions = Publisher(), KeptPositions()
    _importer(publisher, positions).import_file(_file(tmp_path, "day1.csv", [row(n) for n in range(8)]))
    summary = _importer(publisher, positions).import_file(
        _file(tmp_path, "day2.csv", [row(n) for n in range(12)]))
    assert (summary.rows_read, summary.published, summary.skipped) == (12, 4, 8)
    tickets = [f.ticket_ids[0] for f in publisher.facts()]
    assert tickets == [f"T{n}" for n in range(12)]


def test_an_unrelated_export_is_imported_in_full_with_stable_fact_ids(tmp_path: Path) -> None:
    publisher, positions = Publisher(), KeptPositions()
    _importer(publisher, positions).import_file(_file(tmp_path, "a.csv", [row(n) for n in range(4)]))
    reordered = [row(n) for n in reversed(range(6))]
    summary = _importer(publisher, positions).import_file(_file(tmp_path, "b.csv", reordered))
    assert summary.published == 6
    ids = [f.fact_id for f in publisher.facts()]
    assert len(set(ids)) == 6  # the four rows seen before carry their earlier ids


def test_an_interrupted_import_resumes_after_the_last_acknowledged_batch(tmp_path: Path) -> None:
    path = _file(tmp_path, "big.csv", [row(n) for n in range(25)])
    positions = KeptPositions()
    failing = Publisher(fail_on_call=3)  # batches 1 and 2 acknowledged, batch 3 not
    with pytest.raises(DeliveryError):
        _importer(failing, positions, batch_size=10).import_file(path)
    assert len(failing.facts()) == 20
    resumed = Publisher()
    summary = _importer(resumed, positions, batch_size=10).import_file(path)
    assert (summary.skipped, summary.published) == (20, 5)
    assert [f.ticket_ids[0] for f in failing.facts() + resumed.facts()] == [f"T{n}" for n in range(25)]
    assert _importer(Publisher(), positions).import_file(path).whole_file_skipped


def test_bad_rows_are_dead_lettered_with_their_line_and_the_rest_goes_on(tmp_path: Path) -> None:
    rows = [row(0), row(1, action="ruilen"), row(2, when="morgen"), row(3, price="-25,00"),
            "B9;T9;EV-7;verkoop\n", row(4)]
    publisher = Publisher()
    summary = _importer(publisher, KeptPositions()).import_file(_file(tmp_path, "x.csv", rows))
    assert (summary.rows_read, summary.published, summary.dead_lettered) == (6, 2, 4)
    letters = publisher.letters()
    assert [letter.where for letter in letters] == ["x.csv line 3", "x.csv line 4", "x.csv line 5",
                                                   "x.csv line 6"]
    assert [letter.error.field for letter in letters] == ["action", "sold_at", "price", "row"]  # type: ignore[attr-defined]
    assert b"ruilen" in letters[0].raw
    for letter in letters:
        for value in (b"Annelies", b"Verhoeven", b"@example.nl", b"17-05-1984", b"3511 NK"):
            assert value not in letter.raw


def test_a_file_with_an_unreadable_header_publishes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "wrong.csv"
    path.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    publisher = Publisher()
    with pytest.raises(ExportFormatError, match="missing column"):
        _importer(publisher, KeptPositions()).import_file(path)
    assert publisher.items == []


def test_a_final_row_without_a_newline_is_safe_to_extend(tmp_path: Path) -> None:
    publisher, positions = Publisher(), KeptPositions()
    path = tmp_path / "a.csv"
    path.write_text(HEADER + row(0) + row(1).rstrip("\n"), encoding="utf-8")
    _importer(publisher, positions).import_file(path)
    path2 = tmp_path / "b.csv"
    path2.write_text(HEADER + row(0) + row(1) + row(2), encoding="utf-8")
    summary = _importer(publisher, positions).import_file(path2)
    assert summary.skipped == 1 and summary.published == 2  # row 1 again: same fact id
    ids = [f.fact_id for f in publisher.facts()]
    assert len(ids) == 4 and len(set(ids)) == 3
