"""Last-minute offers over time: what a worker offers, withdraws and keeps in memory."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

import streams.lastminute.domain as lm
from bus.topics import LASTMINUTE

HOUR = 3600 * 1000
NOW = 1_800_000_000_000


class _Ctx(SimpleNamespace):
    def __init__(self) -> None:
        sent: list[Any] = []

        async def send_all(out: list[Any]) -> None:
            sent.extend(out)

        super().__init__(settings=SimpleNamespace(streams=SimpleNamespace(lastminute_window_h=48)),
                         metrics=SimpleNamespace(events_of=lambda _agent: SimpleNamespace(inc=lambda: None)),
                         codec=SimpleNamespace(encode=lambda _topic, _schema, offer: offer),
                         send_all=send_all, sent=sent)


def availability(pid: str, start: int, remaining: int = 40) -> dict[str, Any]:
    return {"performance_id": pid, "capacity": 500, "remaining": remaining, "status": "LIMITED",
            "title": "Hamlet", "venue_name": "Stadsschouwburg", "city": "Utrecht", "region": "Utrecht",
            "genre": "toneel", "start": start}


@pytest.mark.parametrize("read_back", [False, True], ids=["all-in-memory", "far-ones-read-back"])
def test_a_performance_months_ahead_is_offered_once_time_brings_it_into_the_window(
        monkeypatch: pytest.MonkeyPatch, read_back: bool) -> None:
    clock = [NOW]
    monkeypatch.setattr(lm, "now_ms", lambda: clock[0])
    ctx = _Ctx()
    state: dict[str, dict[str, Any]] = {}
    desk = lm.LastMinute(ctx, state.get if read_back else None)  # type: ignore[arg-type]
    out: list[Any] = []
    for i in range(1000):
        state[f"dip|P{i}|1"] = availability(f"dip|P{i}|1", NOW + (100 + i) * 24 * HOUR)
        desk.on_availability(f"dip|P{i}|1", state[f"dip|P{i}|1"], out)
    desk.on_availability("dip|SOON|1", availability("dip|SOON|1", NOW + 5 * HOUR), out)
    assert [(topic, key, value["remaining"]) for topic, key, value, _kind in out] == [
        (LASTMINUTE, "dip|SOON|1", 40)]
    # nothing to offer or withdraw for the 1,000 months ahead: nothing remembered as published
    assert len(desk.published) == 1
    # with the state to read back from, the months ahead are ids by day, not summaries
    assert len(desk.summaries) == (1 if read_back else 1001)
    assert sum(len(ids) for ids in desk.later.values()) == (1000 if read_back else 0)

    clock[0] = NOW + 100 * 24 * HOUR - 36 * HOUR  # "dip|P0|1" now starts within 48 hours, "dip|P1|1" not
    asyncio.run(desk.tick())
    offered = {key: value for topic, key, value, _kind in ctx.sent if topic == LASTMINUTE}
    assert set(offered) == {"dip|P0|1", "dip|SOON|1"}
    assert offered["dip|P0|1"]["remaining"] == 40 and offered["dip|SOON|1"] is None  # it has started
    asyncio.run(desk.tick())
    assert len(ctx.sent) == 2  # once each


def test_a_far_performance_is_read_back_as_it_is_now_postponed_sold_or_withdrawn(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [NOW]
    monkeypatch.setattr(lm, "now_ms", lambda: clock[0])
    ctx = _Ctx()
    day = 24 * HOUR
    state = {pid: availability(pid, NOW + 10 * day) for pid in ("dip|A|1", "dip|B|1", "dip|C|1", "dip|D|1")}
    desk = lm.LastMinute(ctx, state.get)  # type: ignore[arg-type]
    for pid, rec in state.items():
        desk.on_availability(pid, rec, None)  # as after a rebalance
    assert not desk.summaries
    # while they were far away, the records moved on in the state (facts this desk saw no more of)
    state["dip|B|1"] = availability("dip|B|1", NOW + 30 * day)  # postponed by 20 days
    state["dip|C|1"] = availability("dip|C|1", NOW + 10 * day, remaining=0)  # sold out
    del state["dip|D|1"]  # everything moved to another performance

    clock[0] = NOW + 10 * day - 40 * HOUR
    asyncio.run(desk.tick())
    offered = {key: value for _topic, key, value, _kind in ctx.sent}
    assert offered["dip|A|1"]["remaining"] == 40
    assert offered == {"dip|A|1": offered["dip|A|1"], "dip|C|1": None}  # C withdrawn once, as after any restart
    assert set(desk.summaries) == {"dip|A|1", "dip|C|1"}  # C may still get seats back
    assert sum(len(ids) for ids in desk.later.values()) == 1  # B, under its new day

    clock[0] = NOW + 30 * day - 40 * HOUR
    asyncio.run(desk.tick())
    assert [key for _topic, key, value, _kind in ctx.sent if value is not None] == ["dip|A|1", "dip|B|1"]
    assert ctx.sent[-1][2]["start"] == NOW + 30 * day
    assert not desk.later


def test_a_far_performance_costs_a_fraction_of_one_kept_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import tracemalloc

    monkeypatch.setattr(lm, "now_ms", lambda: NOW)
    pids = [sys.intern(f"dip|P{i}|1") for i in range(5000)]  # ids the state holds anyway
    held = {}
    for read_back in (False, True):
        desk = lm.LastMinute(_Ctx(), (lambda _pid: None) if read_back else None)  # type: ignore[arg-type]
        tracemalloc.start()
        try:
            for i, pid in enumerate(pids):  # decoded records: ints of their own, gone after the call
                rec = availability(pid, NOW + (3 + i % 200) * 24 * HOUR + i * 60_000, remaining=40 + i)
                rec["capacity"] = 10_000 + i
                desk.on_availability(pid, rec, None)
            del rec
            held[read_back] = tracemalloc.get_traced_memory()[0] / len(pids)
        finally:
            tracemalloc.stop()
    # a slot in its day's list against a summary and its ints (~250 bytes)
    assert held[True] < 40 and held[False] > 200, held


def test_a_far_performance_sold_a_thousand_times_stays_a_few_ids_in_its_day(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lm, "now_ms", lambda: NOW)
    state = {f"dip|P{i}|1": availability(f"dip|P{i}|1", NOW + 30 * 24 * HOUR + i) for i in range(3)}
    desk = lm.LastMinute(_Ctx(), state.get)  # type: ignore[arg-type]
    for n in range(1000):
        pid = f"dip|P{n % 3}|1"
        desk.on_availability(pid, availability(pid, NOW + 30 * 24 * HOUR + n % 3, remaining=400 - n // 3), [])
    (ids,) = desk.later.values()
    assert set(ids) == set(state) and len(ids) <= 64
