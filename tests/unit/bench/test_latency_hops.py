"""The latency part says where a fact's time went: split at the Kafka timestamps of the
re-keyed fact and of the availability record, joined by performance and event time, and
the results table shows each part per load."""

from __future__ import annotations

from typing import Any

from bench.latency import _Tracker
from bench.report import fold, markdown


class _Rekeyed:
    """The re-keyed facts seen: (performance, event time ms) -> Kafka timestamp ms."""

    def __init__(self, seen: dict[tuple[str, int], int]) -> None:
        self.seen = seen

    def at(self, pid: str, event_ms: int) -> int | None:
        return self.seen.get((pid, event_ms))


def _record(track: _Tracker, pid: str, fact_ms: int, produced_ms: int, recv_ms: int) -> None:
    track.on_record(pid, {"last_fact_time": fact_ms}, recv_ms / 1000, produced_ms)


def test_each_record_is_split_where_the_worker_handed_it_on_and_the_slowest_are_named() -> None:
    track, seen = _Tracker(), {}
    for i in range(100):  # 100 facts: 10 ms to the re-keyed topic, 20 to availability, 5 to the reader
        t = 1_000_000 + 10 * i
        seen[(f"p{i}", t)] = t + 10
        _record(track, f"p{i}", t, t + 30, t + 35)
    t = 1_002_000  # the slowest: its time went to the second hop
    seen[("slow", t)] = t + 12
    _record(track, "slow", t, t + 512, t + 520)
    _record(track, "unseen", t, t + 40, t + 45)  # its re-keyed fact was not read: not joined
    _record(track, "late", 9_000_000, 9_000_050, 9_000_060)  # after the load: not counted

    hops: Any = track.hops(_Rekeyed(seen).at, 1_000_000, 1_002_000)

    assert (hops["joined"], hops["records"]) == (101, 102)
    assert (hops["to_rekeyed"]["p50"], hops["to_availability"]["p50"], hops["to_subscriber"]["p50"]) == (10, 20, 5)
    assert hops["to_availability"]["max"] == 500
    assert hops["tail_to_availability"] == 500 and hops["tail_to_rekeyed"] == 12  # the p99 and above: "slow"


def test_nothing_joined_says_so() -> None:
    track = _Tracker()
    _record(track, "p", 1_000, 1_030, 1_035)
    assert track.hops(_Rekeyed({}).at, 0, 2_000) == {"joined": 0, "records": 1}


def test_the_results_table_shows_each_part_per_load() -> None:
    part = {"p50": 10.0, "p95": 20.0, "p99": 30.0, "max": 40.0, "n": 900}
    hops = {"joined": 900, "records": 901, "to_rekeyed": part, "to_availability": part,
            "to_subscriber": {**part, "p99": 9.5}, "tail_to_rekeyed": 31.0, "tail_to_availability": 29.0,
            "tail_to_subscriber": 8.0}
    latency = {"capacity_eps": 1800.0, "half_capacity_eps": 900, "900": {"offered_eps": 900, "hops": hops},
               "500": {"offered_eps": 500, "hops": {"joined": 0, "records": 0}}}
    doc = fold(None, {"latency": latency}, {"parts": ["latency"], "generated_at": "t", "mode": "custom",
                                            "wall_s": 1, "load_1m_start": 0, "load_1m_end": 0})
    rows = [line for line in markdown(doc).splitlines() if line.startswith(("| 500 |", "| 900 |"))]
    assert rows == ["| 900 | 10 / 30, 31 | 10 / 30, 29 | 10 / 9.5, 8 | 900 of 901 |"]
