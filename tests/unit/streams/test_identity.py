"""Identity without Faust: re-keying, parking, releasing and learning links, on a plain table."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from datetime import UTC, datetime
from typing import Any

import fastavro
import pytest
from prometheus_client import CollectorRegistry

from bus.topics import FACTS, IDENTITY, MATCH, UNMATCHED
from schemas import load_schema
from streams.identity.crosswalk import Crosswalk
from streams.identity.domain import CHUNK, KNOWN_KIND, RELEASE_EVERY_S, Identity
from streams.metrics import StreamsMetrics
from streams.tenancy import fact_out

LINK = fastavro.parse_schema(load_schema("identity_link.avsc"))
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def encode_link(link: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, LINK, link)
    return buf.getvalue()


def decode_link(raw: bytes) -> dict[str, Any]:
    return fastavro.schemaless_reader(io.BytesIO(raw), LINK, LINK)  # type: ignore[return-value]


def ticket(fact_id: str, key: str = "vendor:tm:nl|P1", *identifiers: tuple[str, str]) -> dict[str, Any]:
    return {"fact_id": fact_id, "performance_key": key, "event_time": T0, "start": T0 + 19 * 3_600_000,
            "identifiers": [{"namespace": ns, "value": v} for ns, v in identifiers]}


def without_match_notices(out: list[Any]) -> list[Any]:
    return [o for o in out if not (o[0] == MATCH and o[3] == KNOWN_KIND)]


class World:
    """An identity over a plain dict as its parked table, with its own metrics."""

    def __init__(self, parked: dict[str, Any] | None = None, crosswalk: Crosswalk | None = None) -> None:
        self.registry = CollectorRegistry()
        self.parked: dict[str, Any] = {} if parked is None else parked
        self.crosswalk = crosswalk or Crosswalk()
        self.touched: list[Any] = []
        self.identity = Identity(self.crosswalk, self.parked, StreamsMetrics(self.registry), encode_link,
                                 in_partition_of=self.touched.append)

    def metric(self, name: str) -> float:
        return self.registry.get_sample_value(name) or 0.0


def test_a_ticket_fact_of_a_known_performance_is_forwarded_under_its_canonical_id_as_it_came() -> None:
    w = World()
    w.crosswalk.put("vendor:tm:nl|P1", "dip|G|1")
    out: list[Any] = []
    assert w.identity.route("ev", "vendor:tm:nl|P1", "ticket", ticket("f1"), b"raw-1", out) is None
    assert out == [(FACTS, "dip|G|1", b"raw-1", "ticket")]
    assert w.parked == {} and w.touched == []  # the common path never touches the table


def test_facts_of_an_unknown_performance_wait_and_are_released_in_arrival_order_once_it_is_known() -> None:
    w = World()
    out: list[Any] = []
    for n in (1, 2, 2, 3):  # fact 2 delivered twice
        w.identity.route(f"ev{n}", "", "ticket", ticket(f"f{n}"), f"raw-{n}".encode(), out)
    assert out == [(UNMATCHED, "vendor:tm:nl|P1", f"raw-{n}".encode(), "ticket") for n in (1, 2, 3)]
    assert w.metric("cultuurbus_streams_unmatched_total") == 3
    assert w.identity.due_releases(now=100.0) == []  # the calendar has not brought it yet
    assert w.metric("cultuurbus_streams_unmatched_parked") == 3

    learned: list[Any] = []
    w.crosswalk.put("dip|G|1", "dip|G|1")  # the calendar founded it; a description names the vendor id
    w.identity.learn("performance", {**ticket("cal-1", "dip|G|1", ("vendor:tm:nl", "P1"))}, b"cal", learned)
    assert w.identity.due_releases(now=100.0) == ["vendor:tm:nl|P1"]
    assert w.identity.due_releases(now=100.0 + RELEASE_EVERY_S / 2) == []  # asked for already

    released: list[Any] = []
    w.identity.release_requested("release-ev", "vendor:tm:nl|P1", released)
    assert released == [(FACTS, "dip|G|1", f"raw-{n}".encode(), "ticket") for n in (1, 2, 3)]
    assert w.metric("cultuurbus_streams_released_total") == 3
    assert w.parked == {}
    assert w.touched[-1] == "release-ev"  # the table was read in the partition of the request


def test_a_parked_key_is_released_by_its_next_fact_before_that_fact() -> None:
    w = World()
    out: list[Any] = []
    w.identity.route("ev1", "", "ticket", ticket("f1"), b"raw-1", out)
    w.crosswalk.put("vendor:tm:nl|P1", "dip|G|1")
    out.clear()
    w.identity.route("ev2", "", "ticket", ticket("f2"), b"raw-2", out)
    assert out == [(FACTS, "dip|G|1", b"raw-1", "ticket"), (FACTS, "dip|G|1", b"raw-2", "ticket")]


def test_a_calendar_fact_with_a_known_identifier_publishes_each_new_link_once_and_is_forwarded() -> None:
    w = World()
    w.crosswalk.put("dip|G|1", "dip|G|1")
    cal = ticket("cal-1", "uit|E1", ("dip", "G|1"))
    out: list[Any] = []
    assert w.identity.learn("performance", cal, b"cal-raw", out) is None
    links = [(k, decode_link(v)) for t, k, v, _ in out if t == IDENTITY]
    when = datetime(2026, 1, 1, tzinfo=UTC)
    assert links == [
        ("uit|E1", {"namespace": "uit", "value": "E1", "performance_id": "dip|G|1",
                    "learned_from": "cal-1", "event_time": when, "reason": "identifier", "score": None,
                    "decided_by": None})]
    assert without_match_notices(out)[-1] == (FACTS, "dip|G|1", b"cal-raw", "performance")
    again: list[Any] = []
    w.identity.learn("performance", {**cal, "fact_id": "cal-2"}, b"cal-raw-2", again)
    assert without_match_notices(again) == [(FACTS, "dip|G|1", b"cal-raw-2", "performance")]
    w.identity.learned()
    assert w.metric("cultuurbus_streams_identity_links") == 2


def test_a_calendar_fact_without_a_known_identifier_goes_to_matching_keyed_by_its_local_day() -> None:
    w = World()
    out: list[Any] = []
    late = {**ticket("cal-1", "uit|E1"), "start": T0 - 1_800_000}  # 23:30 UTC = 00:30 in Amsterdam
    assert w.identity.learn("performance", late, b"cal-raw", out) is None
    assert out == [(MATCH, "2026-01-01", b"cal-raw", "performance")]
    assert w.crosswalk.get("uit|E1") is None  # founded by identity-match, not here


def test_a_link_that_cannot_be_encoded_is_learned_but_not_published() -> None:
    def unencodable(link: dict[str, Any]) -> bytes:
        raise ValueError("the registry refused the schema")

    w = World()
    w.crosswalk.put("dip|G|1", "dip|G|1")
    w.identity.encode_link = unencodable
    out: list[Any] = []
    w.identity.learn("performance", ticket("cal-1", "dip|G|1", ("uit", "E1")), b"cal", out)
    assert without_match_notices(out) == [(FACTS, "dip|G|1", b"cal", "performance")]
    assert w.crosswalk.get("uit|E1") == "dip|G|1"


def test_conflicting_identifiers_are_counted_once_per_fact_after_the_batch() -> None:
    w = World()
    w.crosswalk.put("dip|G|1", "dip|G|1")
    w.crosswalk.put("uit|E2", "uit|E2")
    out: list[Any] = []
    w.identity.route("ev", "", "ticket", ticket("f1", "dip|G|1", ("uit", "E2")), b"raw", out)
    assert out == [(FACTS, "dip|G|1", b"raw", "ticket")]  # the best id wins
    w.identity.learned()
    assert w.metric("cultuurbus_streams_identity_conflicts_total") == 1


@pytest.mark.parametrize("rec", [{"fact_id": "f1"}, {"fact_id": "f1", "performance_key": "k", "identifiers": [{}]}])
def test_a_fact_with_unusable_identifiers_is_handed_back_to_be_dead_lettered_not_forwarded(
        rec: dict[str, Any]) -> None:
    w = World()
    out: list[Any] = []
    assert isinstance(w.identity.route("ev", "", "ticket", rec, b"raw", out), KeyError)
    assert isinstance(w.identity.learn("performance", rec, b"raw", out), KeyError)
    assert out == [] and w.parked == {}


def test_after_a_rebalance_the_parked_keys_are_known_again_from_the_table() -> None:
    first = World()
    first.identity.route("ev1", "", "ticket", ticket("f1"), b"raw-1", [])
    second = World(parked=first.parked, crosswalk=first.crosswalk)
    asyncio.run(second.identity.recovered())
    second.crosswalk.put("vendor:tm:nl|P1", "dip|G|1")
    assert second.identity.due_releases(now=100.0) == ["vendor:tm:nl|P1"]
    out: list[Any] = []
    second.identity.release_requested("ev", "vendor:tm:nl|P1", out)
    assert out == [(FACTS, "dip|G|1", b"raw-1", "ticket")]


class Recording(dict[str, Any]):
    """A parked table that remembers the size of every value written (what its changelog sends)."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[int] = []

    def __setitem__(self, key: str, value: Any) -> None:
        self.written.append(len(json.dumps(value)))
        super().__setitem__(key, value)


def test_parking_a_key_s_thousandth_fact_writes_no_more_than_its_first_did() -> None:
    table = Recording()
    w = World(parked=table)
    raw = bytes(300)  # a ticket fact's size
    for n in range(1000):
        w.identity.route(f"ev{n}", "", "ticket", ticket(f"f{n}"), raw, [])
    first, last = sum(table.written[:3]), sum(table.written[-3:])
    # a key's list of facts is rewritten a chunk at a time, never whole: a backlog parked
    # thousands of facts per key, and the worker held every rewrite on its way to the changelog
    assert last <= first + CHUNK * 12, (first, last)
    assert w.metric("cultuurbus_streams_unmatched_parked") == 0  # counted by due_releases
    w.crosswalk.put("vendor:tm:nl|P1", "dip|G|1")
    out: list[Any] = []
    w.identity.route("ev-last", "", "ticket", ticket("f-last"), b"last", out)
    assert [o[2] for o in out] == [raw] * 1000 + [b"last"]
    assert w.parked == {}  # every chunk and fact is deleted with the key's head


def test_parking_a_fact_writes_its_chunk_and_itself_and_the_head_only_when_the_keys_grow() -> None:
    table = Recording()
    w = World(parked=table)
    written = []
    for fact in (ticket("f1"), ticket("f2"), ticket("f3", "vendor:tm:nl|P1", ("dip", "NL-1|3")),
                 ticket("f4", "vendor:tm:nl|P1", ("dip", "NL-1|3"))):
        before = len(table.written)
        w.identity.route("ev", "", "ticket", fact, b"raw", [])
        written.append(len(table.written) - before)
    # every write is a changelog record: a backlog parks thousands of facts per key
    assert written == [3, 2, 3, 2]  # the first starts a chunk; the third brings a DIP id
    assert table["vendor:tm:nl|P1"] == {"keys": ["dip|NL-1|3", "vendor:tm:nl|P1"], "n": 1}
    asyncio.run(w.identity.recovered())
    assert w.identity.due_releases(now=100.0) == []
    assert w.metric("cultuurbus_streams_unmatched_parked") == 4  # counted from the chunks


def test_facts_parked_over_several_chunks_come_out_once_each_in_arrival_order_also_per_tenant() -> None:
    w = World()
    out: list[Any] = []
    n_facts = CHUNK * 2 + 5
    for n in range(n_facts):
        w.identity.route(f"ev{n}", "", "ticket", ticket(f"f{n}"), f"raw-{n}".encode(), out)
        w.identity.route(f"ev{n}", "", "ticket", ticket(f"f{n}"), f"raw-{n}".encode(), out)  # again
    w.identity.route("ev-b", "", "ticket", ticket("f0"), b"raw-0-of-b", out, tenant="b")  # same id, other sender
    assert len(out) == n_facts + 1
    asyncio.run(w.identity.recovered())
    w.crosswalk.put("vendor:tm:nl|P1", "dip|G|1")
    assert w.identity.due_releases(now=100.0) == ["vendor:tm:nl|P1"]
    assert w.metric("cultuurbus_streams_unmatched_parked") == n_facts + 1
    released: list[Any] = []
    w.identity.release_requested("ev", "vendor:tm:nl|P1", released)
    assert [o[2] for o in released] == [f"raw-{n}".encode() for n in range(n_facts)] + [b"raw-0-of-b"]
    assert w.parked == {}


def test_a_crash_between_listing_a_fact_and_keeping_it_parks_it_again_and_releases_it_once() -> None:
    w = World()
    w.identity.route("ev1", "", "ticket", ticket("f1"), b"raw-1", [])
    w.identity.route("ev2", "", "ticket", ticket("f2"), b"raw-2", [])
    del w.parked["f:vendor:tm:nl|P1|f2"]  # listed in its chunk, its own record never written
    w.identity.route("ev2", "", "ticket", ticket("f2"), b"raw-2", [])  # delivered again after the restart
    w.crosswalk.put("vendor:tm:nl|P1", "dip|G|1")
    out: list[Any] = []
    w.identity.release_requested("ev", "vendor:tm:nl|P1", out)
    assert [o[2] for o in out] == [b"raw-1", b"raw-2"]


def test_facts_parked_in_one_record_per_key_by_an_earlier_version_are_still_released() -> None:
    legacy = {"vendor:tm:nl|P1": {"keys": ["vendor:tm:nl|P1"],
                                  "items": [["ticket", base64.b64encode(b"raw-1").decode(), "f1"],
                                            ["ticket", base64.b64encode(b"raw-2").decode(), "f2", "a"]]}}
    w = World(parked=legacy)
    asyncio.run(w.identity.recovered())
    w.identity.route("ev", "", "ticket", ticket("f1"), b"raw-1", [])  # parked already: not again
    w.identity.route("ev", "", "ticket", ticket("f3"), b"raw-3", [])
    w.crosswalk.put("vendor:tm:nl|P1", "dip|G|1")
    assert w.identity.due_releases(now=100.0) == ["vendor:tm:nl|P1"]
    assert w.metric("cultuurbus_streams_unmatched_parked") == 3
    out: list[Any] = []
    w.identity.release_requested("ev", "vendor:tm:nl|P1", out)
    assert out == [(FACTS, "dip|G|1", b"raw-1", "ticket"), fact_out(FACTS, "dip|G|1", b"raw-2", "ticket", "a"),
                   (FACTS, "dip|G|1", b"raw-3", "ticket")]
    assert w.parked == {}


class CrashOnce(dict[str, Any]):
    """A parked table whose ``at``-th write never happens: the worker died just before it."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.writes, self.at = 0, at

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes += 1
        if self.writes == self.at:
            raise SystemExit("kill -9")
        super().__setitem__(key, value)


@pytest.mark.parametrize("lost", range(1, 4))  # its three writes: head, chunk, fact
def test_a_crash_at_any_write_of_a_fact_that_starts_a_chunk_loses_nothing_once_it_is_delivered_again(
        lost: int) -> None:
    first = World()
    for n in range(CHUNK):  # a full chunk
        first.identity.route(f"ev{n}", "", "ticket", ticket(f"f{n}"), f"raw-{n}".encode(), [])
    table = CrashOnce(at=lost)
    table.update(first.parked)
    w = World(parked=table)
    asyncio.run(w.identity.recovered())
    with pytest.raises(SystemExit):  # the fact that starts the next chunk; the worker dies mid-way
        w.identity.route("ev-x", "", "ticket", ticket("f-x"), b"raw-x", [])
    again = World(parked=table, crosswalk=w.crosswalk)  # restarted: the table as far as it was written
    asyncio.run(again.identity.recovered())
    again.identity.route("ev-x", "", "ticket", ticket("f-x"), b"raw-x", [])  # delivered again
    again.identity.route("ev-y", "", "ticket", ticket("f-y"), b"raw-y", [])
    again.crosswalk.put("vendor:tm:nl|P1", "dip|G|1")
    out: list[Any] = []
    again.identity.release_requested("ev", "vendor:tm:nl|P1", out)
    assert [o[2] for o in out] == [f"raw-{n}".encode() for n in range(CHUNK)] + [b"raw-x", b"raw-y"]
