"""Undoing a link moves what was counted: the state retractions, the Rerouter on a plain
table, and the facts agent's deduplication of moved facts (issue #13 item 1)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from bus.errors import SerializationError
from bus.topics import FACTS
from streams.attendance import state as at
from streams.availability import state as av
from streams.facts.agents import first_deliveries
from streams.facts.fact import Fact
from streams.identity.crosswalk import Crosswalk
from streams.identity.domain import Identity
from streams.identity.reroute import CHUNK, Rerouter, parse_reroute
from streams.metrics import StreamsMetrics
from streams.sales import state as sa
from streams.store import FirstDelivery

K = "vendor:ticketmatic:acme|101"


def ticket(fid: str, et: str = "SOLD", q: int = 1, t: int = 1000, src: str = "ticketmatic") -> dict[str, Any]:
    return {"fact_id": fid, "event_type": et, "quantity": q, "event_time": t, "source_system": src,
            "source_account": "acme", "ticket_type": "NORMAL", "price_cents": 2000, "channel": "web"}


def snapshot(fid: str, t: int, tickets: int, capacity: int | None = None) -> dict[str, Any]:
    return {"fact_id": fid, "event_time": t, "source_system": "dip-cumulative", "source_account": "v",
            "lines": [{"ticket_type": "NORMAL", "tickets": tickets, "revenue_cents": tickets * 1000}],
            "reservations": 0, "blocked_seats": 0, "capacity": capacity}


def perf(fid: str, t: int, status: str = "SCHEDULED", src: str = "uitdatabank") -> dict[str, Any]:
    return {"fact_id": fid, "event_time": t, "capacity": 100, "status": status, "title": "Hamlet",
            "venue": {}, "genre": None, "start": 10, "url": None, "source_system": src, "source_account": "x"}


def seen(state: dict[str, Any]) -> tuple[int, int, int | None, str]:
    r = av.availability_record("A", state, limited_threshold=10, now_ms=0)
    return r["sold"], r["refunded"], r["remaining"], r["status"]


# --- state: each domain takes a fact back ----------------------------------------------


def test_five_seats_sold_then_retracted_leave_the_performance_as_if_never_sold() -> None:
    s = av.new_state()
    av.apply_calendar(s, perf("cal", 1))
    av.apply_ticket(s, ticket("t1", q=5))
    assert seen(s) == (5, 0, 95, "AVAILABLE")
    assert av.retract_ticket(s, ticket("t1", q=5))
    assert seen(s) == (0, 0, 100, "AVAILABLE")


def test_a_performance_everything_was_moved_out_of_is_withdrawn_and_a_later_fact_brings_it_back() -> None:
    s = av.new_state()
    av.apply_calendar(s, perf("cal", 1, src="ticketmatic"))
    av.apply_ticket(s, ticket("t1", q=3))
    assert not av.moved_away(s)
    assert av.retract(s, "ticket", ticket("t1", q=3))
    assert not av.moved_away(s), "its own description still describes it"
    assert av.retract(s, "performance", perf("cal", 1, src="ticketmatic"))
    assert av.moved_away(s), "renamed to its sector id: no copy with all seats free may stay"
    av.apply_calendar(s, perf("cal2", 2, src="ticketmatic"))
    assert not av.moved_away(s)


def test_a_performance_never_moved_is_never_withdrawn_even_with_nothing_counted() -> None:
    s = av.new_state()
    av.apply_ticket(s, ticket("scan", et="SCANNED"))
    assert not av.moved_away(s)


def test_a_retracted_sale_and_refund_undo_both_the_seat_and_the_refund_count() -> None:
    s = av.new_state()
    av.apply_calendar(s, perf("cal", 1))
    facts = [ticket("t1", q=3), ticket("t2", "REFUNDED", q=1)]
    for f in facts:
        av.apply_ticket(s, f)
    assert seen(s) == (2, 1, 98, "AVAILABLE")
    for f in facts:
        av.retract(s, "ticket", f)
    assert seen(s) == (0, 0, 100, "AVAILABLE")


def test_a_retracted_scan_changes_no_availability() -> None:
    s = av.new_state()
    assert not av.retract_ticket(s, ticket("scan", "SCANNED"))


def test_only_the_snapshot_held_takes_its_source_out_when_retracted() -> None:
    s = av.new_state()
    av.apply_calendar(s, perf("cal", 1))
    older, newer = snapshot("s1", 10, 30), snapshot("s2", 20, 40, capacity=80)
    av.apply_snapshot(s, older)
    av.apply_snapshot(s, newer)
    assert seen(s) == (40, 0, 60, "AVAILABLE")
    assert not av.retract_snapshot(s, older)  # superseded already
    assert seen(s) == (40, 0, 60, "AVAILABLE")
    assert av.retract_snapshot(s, newer)
    assert seen(s) == (0, 0, 100, "AVAILABLE")
    assert s["snap_capacity"] is None


def test_a_retracted_cancellation_no_longer_cancels_the_performance() -> None:
    s = av.new_state()
    av.apply_calendar(s, perf("uit", 1))
    av.apply_calendar(s, perf("tm-cancel", 2, "CANCELLED", src="ticketmatic"))
    assert seen(s)[3] == "CANCELLED"
    assert not av.retract_calendar(s, perf("tm-older", 1, "CANCELLED", src="ticketmatic"))  # not the one held
    assert av.retract_calendar(s, perf("tm-cancel", 2, "CANCELLED", src="ticketmatic"))
    assert seen(s)[3] == "AVAILABLE"


def test_sales_windows_of_a_retracted_ticket_sum_to_zero() -> None:
    f = ticket("t1", q=4)
    assert [d[2:] for d in sa.ticket_deltas(f)] == [(4, 8000)]
    assert [d[2:] for d in sa.ticket_deltas(f, -1)] == [(-4, -8000)]


def test_a_retracted_snapshot_takes_its_cumulative_lines_out_of_the_sales_windows() -> None:
    d1, held = sa.snapshot_deltas(None, snapshot("s1", 10, 3))
    d2, held = sa.snapshot_deltas(held, snapshot("s2", 20, 5))
    assert sa.retracted_snapshot_deltas(held, snapshot("s1", 10, 3)) == ([], None)
    back, nothing = sa.retracted_snapshot_deltas(held, snapshot("s2", 20, 5))
    assert sum(d[2] for d in d1 + d2 + back) == 0 and sum(d[3] for d in d1 + d2 + back) == 0
    assert nothing == {"time": -1, "lines": {}}
    again, _ = sa.snapshot_deltas(nothing, snapshot("s3", 30, 1))  # as if nothing were held
    assert [d[2] for d in again] == [1]


def test_retracted_scans_and_sales_leave_attendance_as_before() -> None:
    s = at.new_state()
    at.apply(s, "ticket", ticket("t1", q=2))
    at.apply(s, "ticket", ticket("scan", "SCANNED", q=2, t=5000))
    assert (s["sold"], s["scanned"], s["first"]) == (2, 2, 5000)
    assert not at.retract(s, "performance", perf("cal", 1))
    at.retract(s, "ticket", ticket("scan", "SCANNED", q=2, t=5000))
    at.retract(s, "ticket", ticket("t1", q=2))
    assert (s["sold"], s["scanned"], s["first"], s["last"]) == (0, 0, None, None)


# --- the Rerouter on a plain table ------------------------------------------------------


def release_event(offset: int) -> Any:
    return SimpleNamespace(message=SimpleNamespace(offset=offset))


class World:
    def __init__(self) -> None:
        self.crosswalk = Crosswalk()
        self.table: dict[str, Any] = {}
        self.touched: list[Any] = []
        self.rerouter = Rerouter(self.crosswalk, self.table, self.touched.append)

    def record(self, fid: str, canonical: str = "A", key: str = K) -> None:
        self.rerouter.record(f"ev-{fid}", key, canonical, "ticket", fid.encode(), fid)

    def reroute(self, to: str, offset: int, key: str = K) -> list[Any]:
        out: list[Any] = []
        self.rerouter.reroute(release_event(offset), key, to, [key], out)
        return out


def test_undoing_a_link_retracts_each_fact_where_it_was_counted_then_sends_it_to_the_right_performance() -> None:
    w = World()
    w.record("f1")
    w.record("f2")
    w.record("f1")  # forwarded again: kept once
    out = w.reroute("B", offset=7)
    assert out == [(FACTS, "A", b"f1", "ticket", "retract/0"), (FACTS, "B", b"f1", "ticket", "1"),
                   (FACTS, "A", b"f2", "ticket", "retract/0"), (FACTS, "B", b"f2", "ticket", "1")]
    assert w.crosswalk.get(K) == "B"  # later facts of K go to B before the identity topic says so
    assert w.touched[-1].message.offset == 7  # the table is read in the re-route's partition


def test_the_same_reroute_published_again_or_replayed_moves_nothing() -> None:
    w = World()
    w.record("f1")
    w.reroute("B", offset=7)
    assert w.reroute("B", offset=9) == []  # published twice
    assert w.reroute("A", offset=3) == []  # an older re-route replayed


def test_a_reroute_delivered_again_after_a_crash_says_the_same_moves_again() -> None:
    w = World()
    w.record("f1")
    first = w.reroute("B", offset=7)
    assert w.reroute("B", offset=7) == first  # the facts agent drops whichever arrived twice


def test_a_second_undo_moves_the_facts_on_with_a_new_generation() -> None:
    w = World()
    w.record("f1")
    w.reroute("B", offset=7)
    w.record("f2", canonical="B")  # came after the first undo: counted on B as it came
    assert w.reroute("A", offset=8) == [
        (FACTS, "B", b"f1", "ticket", "retract/1"), (FACTS, "A", b"f1", "ticket", "2"),
        (FACTS, "B", b"f2", "ticket", "retract/0"), (FACTS, "A", b"f2", "ticket", "1")]


def test_a_key_with_more_facts_than_a_chunk_moves_them_all_once() -> None:
    w = World()
    for n in range(CHUNK * 2 + 3):
        w.record(f"f{n}")
    assert len(w.reroute("B", offset=1)) == 2 * (CHUNK * 2 + 3)
    assert max(len(v) for k, v in w.table.items() if k.startswith("c:")) == CHUNK


@pytest.mark.parametrize(("key", "value", "says"), [
    (K, b"not json", "not JSON"),
    (K, b"[1]", "JSON list"),
    (K, b'{"keys": []}', '"to"'),
    (K, b'{"to": "B", "keys": "vendor|1"}', '"keys"'),
    (K, b'{"to": "B", "keys": ["no-namespace"]}', '"keys"'),
    ("", b'{"to": "B", "keys": []}', "no key"),
])
def test_a_malformed_reroute_is_refused_with_what_it_must_be(key: str, value: bytes, says: str) -> None:
    with pytest.raises(SerializationError, match="re-route record") as err:
        parse_reroute(key, value)
    assert says in str(err.value)


def test_a_wellformed_reroute_names_where_to_and_which_keys() -> None:
    assert parse_reroute(K, b'{"to": "B", "keys": ["vendor:ticketmatic:acme|101"]}') == ("B", [K])


# --- the facts agent: moved facts are applied once each -----------------------------------


class MarkerTable:
    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        self.data[key] = value


class FactsTopic:
    """participation.facts and the facts agent's availability, without Faust: offsets,
    first-delivery markers per partition (every performance in its own, the hard case)
    and one availability state per performance."""

    def __init__(self) -> None:
        self.log: list[tuple[str, bytes, str | None]] = []
        self.seen: dict[str, FirstDelivery] = {}
        self.states: dict[str, dict[str, Any]] = {}
        self.facts: dict[bytes, dict[str, Any]] = {}

    def publish(self, out: list[Any]) -> None:
        for rec in out:
            self.log.append((rec[1], rec[2], rec[4] if len(rec) > 4 else None))

    def consume(self) -> None:
        """Everything from the first record (a replay, as far as the state has seen it)."""
        for offset, (pid, raw, move) in enumerate(self.log):
            seen = self.seen.setdefault(pid, FirstDelivery(MarkerTable()))  # type: ignore[arg-type]
            for f in first_deliveries(seen, [Fact("ticket", self.facts[raw], offset, None, move)]):
                s = self.states.setdefault(pid, {**av.new_state(), "o": -1})
                if offset <= s["o"]:
                    continue
                if f.retract:
                    av.retract(s, "ticket", f.rec)
                else:
                    av.apply_ticket(s, f.rec)
                s["o"] = offset
            seen.save()

    def sold(self) -> dict[str, int]:
        return {pid: av.totals(s)["sold"] for pid, s in self.states.items()}


def test_a_moved_fact_is_counted_on_its_new_performance_once_however_often_it_is_delivered() -> None:
    w, topic = World(), FactsTopic()
    for n in range(3):
        topic.facts[f"f{n}".encode()] = ticket(f"f{n}", q=2)
        w.record(f"f{n}")
        topic.publish([(FACTS, "A", f"f{n}".encode(), "ticket")])
    topic.publish([(FACTS, "A", b"f0", "ticket")])  # a connector's resend: a duplicate
    topic.consume()
    assert topic.sold() == {"A": 6}
    moves = w.reroute("B", offset=5)
    topic.publish(moves)
    topic.publish(w.reroute("B", offset=5))  # delivered again after a crash
    topic.consume()
    assert topic.sold() == {"A": 0, "B": 6}
    topic.consume()  # the whole topic replayed from the start
    assert topic.sold() == {"A": 0, "B": 6}
    topic.publish([(FACTS, "B", b"f1", "ticket")])  # the source replayed: routed by the new link
    topic.consume()
    assert topic.sold() == {"A": 0, "B": 6}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ABC"), st.booleans()), max_size=6),
       st.integers(min_value=1, max_value=4))
def test_after_any_undos_each_fact_is_counted_once_where_its_last_link_points(
        moves: list[tuple[str, bool]], facts: int) -> None:
    w, topic = World(), FactsTopic()
    for n in range(facts):
        topic.facts[f"f{n}".encode()] = ticket(f"f{n}")
        w.record(f"f{n}")
        topic.publish([(FACTS, "A", f"f{n}".encode(), "ticket")])
    where, offset = "A", 10
    for to, crash in moves:
        topic.publish(w.reroute(to, offset))
        if crash:
            topic.publish(w.reroute(to, offset))
        topic.consume()
        where, offset = to, offset + 1
    topic.consume()
    assert {pid: n for pid, n in topic.sold().items() if n} == {where: facts}


# --- identity-route and the Rerouter: a fact routed again goes where it is counted --------


def test_a_fact_routed_again_after_its_link_changed_is_counted_once_where_the_reroute_puts_it() -> None:
    """A worker re-reads a ticket partition from its last committed offset after a rebalance
    (at least once): by then the crosswalk has the link a rename published, but the re-route
    that moves what was counted has not come yet. Routed under the new link the fact would be
    counted there twice, as itself and again when the re-route moves it."""
    w, topic = World(), FactsTopic()
    identity = Identity(w.crosswalk, {}, StreamsMetrics(CollectorRegistry()), lambda link: b"link",
                        rerouter=w.rerouter)
    w.crosswalk.put(K, "A", "founded")  # founded by the vendor's own description
    rec = {**ticket("f1", q=2), "performance_key": K}
    topic.facts[b"f1"] = rec
    out: list[Any] = []
    assert identity.route(release_event(1), K, "ticket", rec, b"f1", out) is None
    topic.publish(out)
    w.crosswalk.put(K, "B", "match")  # the rename's link, read from the identity topic
    out = []
    assert identity.route(release_event(1), K, "ticket", rec, b"f1", out) is None  # the same fact again
    assert [(o[1], o[2]) for o in out] == [("A", b"f1")], "forwarded where its first forwarding counted it"
    topic.publish(out)
    topic.publish(w.reroute("B", offset=9))  # the rename's re-route, late
    topic.consume()
    assert {pid: n for pid, n in topic.sold().items() if n} == {"B": 2}
    out = []
    identity.route(release_event(1), K, "ticket", rec, b"f1", out)  # and once more, after the move
    topic.publish(out)
    topic.consume()
    assert [(o[1], o[2]) for o in out] == [("B", b"f1")]
    assert {pid: n for pid, n in topic.sold().items() if n} == {"B": 2}


# --- the crosswalk: the identity reader behind this worker's own links ---------------------


def test_a_link_this_worker_moved_is_not_undone_by_the_older_link_its_reader_brings_late() -> None:
    """A re-route (or a rename on this worker's match desk) moves a key at once; the worker's
    identity reader may still be behind on the topic and bring the key's older link after it.
    Taken as it came, the facts of the key would go back to the performance it left, where no
    re-route would ever move them again."""
    cw = Crosswalk()
    cw.put(K, "V", "founded")  # this worker founded it (a vendor's own event)
    cw.put(K, "S", "match")  # renamed to its sector id here
    assert cw.follow(K, "V", "founded") is False  # the reader, late, brings the founding link
    assert cw.get(K) == "S"
    assert cw.follow(K, "S", "match") is True  # then the rename's own link: caught up
    assert cw.follow(K, "V", "person") is True and cw.get(K) == "V"  # a later undo counts again
    assert cw.reason_of(K) == "person"


def test_links_another_worker_decided_are_followed_as_they_come() -> None:
    cw = Crosswalk()
    assert cw.follow(K, "V", "founded") and cw.follow(K, "S", "match") and cw.follow(K, "V", "person")
    assert (cw.get(K), cw.reason_of(K)) == ("V", "person")
