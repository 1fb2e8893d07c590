"""The simulator's privacy scan finds a buyer's raw personal value wherever it lies in the
bytes read back (inside Avro, inside a dead letter's JSON), accented names by their UTF-8
bytes, and nothing in records that carry none or only half a value each."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.simulator.model import Season
from connectors.simulator.readback import Observed, privacy_leaks
from connectors.simulator.season import build_season


@pytest.fixture(scope="module")
def season() -> Season:
    return build_season(3, venues=3, productions=2, performances=6, now=datetime(2026, 12, 1, tzinfo=UTC))


def test_records_without_personal_values_have_no_leaks(season: Season) -> None:
    clean = Observed(raw=[b"\x00\x02\x14ticket-1\x02", b'{"buyer": {"id_hash": "ab12"}}', b""])
    assert privacy_leaks(clean, season) == []


def test_an_email_inside_avro_bytes_and_an_accented_name_inside_json_are_both_found(
        season: Season) -> None:
    plain = season.customers[5]
    accented = next(c for c in season.customers if not c.name.isascii())
    raw = [b"\x00\x00\x00\x00\x07\x1e" + plain.email.encode() + b"\x02\x00",
           ('{"error": "bad", "value": "' + accented.name + '"}').encode()]
    planted = {plain.email, accented.name}
    assert privacy_leaks(Observed(raw=raw), season) == [  # every holder of them, in the pool's order
        f"{c.id}: {v!r}" for c in season.customers for v in dict.fromkeys(c.personal_values()) if v in planted]


def test_a_value_split_over_two_records_is_not_a_leak_and_a_latin1_lookalike_is_not_one(
        season: Season) -> None:
    who = next(c for c in season.customers if not c.name.isascii())
    half = len(who.email) // 2
    split = [who.email[:half].encode(), who.email[half:].encode()]  # joined by a newline
    lookalike = [who.name.encode("latin-1", errors="replace")]  # not the UTF-8 bytes
    assert privacy_leaks(Observed(raw=split + lookalike), season) == []
