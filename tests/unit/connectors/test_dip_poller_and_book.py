"""DIP cumulative parts: merging, the snapshot they make, and the polling mode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bus.topics import SNAPSHOTS
from connectors.fakes.dip import FakeDip, cumulative_entry
from connectors.sdk.errors import MappingError
from connectors.sdk.records import DeadLetter, SourceRecord
from connectors.ticketing.dip import DipCumulativeSource, Parts, build_snapshot, map_entry
from connectors.ticketing.dip.payloads import parse_body
from schemas.models import Identifier, SalesSnapshot, TicketType

U = datetime(2025, 2, 1, 10, tzinfo=UTC)
DIP = Identifier.dip("NL-23-1234-5", 3)


def test_parts_merge_one_call_at_a_time_and_survive_a_round_trip() -> None:
    parts = Parts().with_body("tickets", parse_body("tickets", b'{"normal": {"tickets": 5, "recette": 1000}}'))
    parts = parts.with_body("capacity", parse_body("capacity", b'{"capacity": 300}'))
    parts = parts.with_body("blocked-seats", parse_body("blocked-seats", b'{"blockedSeats": 2}'))
    assert parts.lines == {"NORMAL": (5, 1000), "DISCOUNT": (0, 0), "FREE": (0, 0), "OTHER": (0, 0)}
    assert parts.capacity == 300 and parts.blocked == (2, 0) and parts.reservations is None
    assert Parts.from_json(parts.to_json()) == parts


def test_a_snapshot_lists_every_ticket_type_once_tickets_are_known() -> None:
    parts = Parts(lines={"NORMAL": (5, 1000), "DISCOUNT": (1, 150), "FREE": (0, 0), "OTHER": (0, 0)},
                  reservations=(3, 900), capacity=300)
    snap = build_snapshot(DIP, parts, fact_id="f", event_time=U, account="a")
    assert [(line.ticket_type, line.tickets) for line in snap.lines] == [
        (TicketType.NORMAL, 5), (TicketType.DISCOUNT, 1), (TicketType.FREE, 0), (TicketType.OTHER, 0)]
    assert (snap.reservations, snap.reservations_value_cents, snap.blocked_seats) == (3, 900, 0)
    assert snap.performance_key == DIP.key and snap.identifiers == [DIP]


def test_a_tickets_call_without_any_type_is_refused() -> None:
    with pytest.raises(MappingError, match="at least one ticket type"):
        parse_body("tickets", b'{"updated": "2025-02-01T10:00:00Z"}')


def test_a_listed_entry_maps_to_one_snapshot() -> None:
    entry = cumulative_entry("NL-23-1234-5", 3, U, normal=(100, 250000), free=(2, 0),
                             reservations=(5, 12500), capacity=640)
    dip, updated, snap = map_entry(entry, account="vendor")
    assert dip == DIP and updated == U
    assert snap.capacity == 640 and snap.reservations == 5
    assert snap.fact_id == f"dip:vendor:{DIP.value}:poll:{int(U.timestamp() * 1000)}"


@pytest.mark.parametrize(("patch", "field"), [({"number": -1}, "number"),
                                              ({"updated": "2025-02-01 10:00"}, "updated"),
                                              ({"tickets": {"normal": {"tickets": -1}}}, "tickets.normal.tickets"),
                                              ({"capacity": "lots"}, "capacity")])
def test_bad_entries_name_the_field(patch: dict, field: str) -> None:
    with pytest.raises(MappingError) as err:
        map_entry({**cumulative_entry("NL-23-1234-5", 3, U), **patch}, account="v")
    assert err.value.field == field


def _snaps(items: list) -> list[SalesSnapshot]:
    return [i.value for i in items if isinstance(i, SourceRecord)]


def test_the_poller_publishes_a_performance_only_when_its_updated_moves() -> None:
    with FakeDip() as fake:
        fake.set_cumulative([cumulative_entry("NL-23-1234-5", 1, U, normal=(10, 2500)),
                             cumulative_entry("NL-23-1234-5", 2, U, normal=(4, 1000))])
        source = DipCumulativeSource(f"{fake.url}/cumulative")
        first = source.poll(None)
        assert sorted(s.performance_key for s in _snaps(first.items)) == [
            "dip|NL-23-1234-5|00001", "dip|NL-23-1234-5|00002"]
        assert all(i.topic == SNAPSHOTS for i in first.items)
        assert source.poll(first.position).items == []
        fake.set_cumulative([cumulative_entry("NL-23-1234-5", 1, U + timedelta(hours=1), normal=(9, 2250)),
                             cumulative_entry("NL-23-1234-5", 2, U, normal=(4, 1000))])
        second = source.poll(first.position)
    [snap] = _snaps(second.items)
    assert snap.performance_key == "dip|NL-23-1234-5|00001"
    assert snap.lines[0].tickets == 9  # fewer than before: a refund, published as is


def test_the_poller_dead_letters_a_bad_entry_once() -> None:
    with FakeDip() as fake:
        fake.set_cumulative([{"production": "NL-23-1234-5", "number": 1, "updated": "soon"},
                             cumulative_entry("NL-23-1234-5", 2, U)])
        source = DipCumulativeSource(f"{fake.url}/cumulative")
        first = source.poll(None)
        again = source.poll(first.position)
    assert [type(i) for i in first.items] == [DeadLetter, SourceRecord]
    assert again.items == []


class _StoredPositions:
    """Parts an older receiver stored, before values were bounded to the contract."""

    def __init__(self, stored: dict) -> None:
        self.stored = stored

    def load_all(self, timeout: float) -> dict:
        return dict(self.stored)

    def save(self, key: str, value: dict) -> None:
        self.stored[key] = value


def test_stored_parts_the_contract_cannot_carry_are_forgotten_and_later_calls_still_publish() -> None:
    from connectors.ticketing.dip import DipReceiver, SnapshotBook
    from tests.support.recording import RecordingPublisher, dip_context

    legacy = {"lines": {"NORMAL": [2**31, 0], "DISCOUNT": [4, 400]}, "reservations": [2, 2**63],
              "blocked": None, "capacity": 2**31}
    assert Parts.from_json(legacy) == Parts(lines={"DISCOUNT": (4, 400)}, capacity=None)
    publisher = RecordingPublisher()
    book = SnapshotBook(_StoredPositions({DIP.key: legacy}))  # type: ignore[arg-type]
    receiver = DipReceiver(dip_context(publisher), "t", book)
    answer = receiver.handle("reservations", "NL-23-1234-5", "3", b'{"reservations": 3, "value": 90}')
    assert answer.status == 200, answer.body
    [snap] = publisher.snapshots()
    assert snap.capacity is None and snap.reservations == 3
    assert [(line.ticket_type, line.tickets) for line in snap.lines] == [(TicketType.DISCOUNT, 4)]
