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


def test_a_performance_months_ahead_is_offered_once_time_brings_it_into_the_window(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [NOW]
    monkeypatch.setattr(lm, "now_ms", lambda: clock[0])
    ctx = _Ctx()
    desk = lm.LastMinute(ctx)  # type: ignore[arg-type]
    out: list[Any] = []
    for i in range(1000):
        desk.on_availability(f"dip|P{i}|1", availability(f"dip|P{i}|1", NOW + (100 + i) * 24 * HOUR), out)
    desk.on_availability("dip|SOON|1", availability("dip|SOON|1", NOW + 5 * HOUR), out)
    assert [(topic, key, value["remaining"]) for topic, key, value, _kind in out] == [
        (LASTMINUTE, "dip|SOON|1", 40)]
    # nothing to offer or withdraw for the 1,000 months ahead: nothing remembered as published
    assert len(desk.published) == 1 and len(desk.summaries) == 1001

    clock[0] = NOW + 100 * 24 * HOUR - 36 * HOUR  # "dip|P0|1" now starts within 48 hours, "dip|P1|1" not
    asyncio.run(desk.tick())
    offered = {key: value for topic, key, value, _kind in ctx.sent if topic == LASTMINUTE}
    assert set(offered) == {"dip|P0|1", "dip|SOON|1"}
    assert offered["dip|P0|1"]["remaining"] == 40 and offered["dip|SOON|1"] is None  # it has started
    asyncio.run(desk.tick())
    assert len(ctx.sent) == 2  # once each
