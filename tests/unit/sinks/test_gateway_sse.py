"""SSE fan-out and resume: replay then live without gaps or repeats, slow clients dropped."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sse_starlette import ServerSentEvent

from sinks.gateway.client import parse_sse
from sinks.gateway.errors import BadParameterError
from sinks.gateway.metrics import GatewayMetrics
from sinks.gateway.sse import Broadcaster, StreamFilter, event_stream, parse_last_event_id, parse_topics
from sinks.gateway.view import View

ALL = parse_topics(None)
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def rec(pid: str, version: int, region: str = "Utrecht") -> dict[str, Any]:
    return {"performance_id": pid, "capacity": 100, "remaining": 100 - version, "status": "AVAILABLE",
            "region": region, "start": NOW, "updated_at": NOW, "version": version}


def setup(ring: int = 100, queue: int = 64) -> tuple[View, Broadcaster, GatewayMetrics]:
    metrics = GatewayMetrics(CollectorRegistry())
    return View(ring, seq_base=0), Broadcaster(metrics, queue), metrics


def apply(view: View, bc: Broadcaster, pid: str, version: int, region: str = "Utrecht") -> None:
    _, change = view.apply_availability(pid, rec(pid, version, region))
    assert change is not None
    bc.publish([change])


async def take(stream: AsyncGenerator[ServerSentEvent, None], n: int) -> list[ServerSentEvent]:
    out = []
    for _ in range(n):
        out.append(await asyncio.wait_for(stream.__anext__(), 5))
    return out


def test_stream_replays_after_last_event_id_then_goes_live_without_repeats() -> None:
    async def main() -> list[str]:
        view, bc, _ = setup()
        for v in range(1, 6):
            apply(view, bc, "p", v)
        stream = event_stream(view, bc, StreamFilter(ALL), last_event_id=2)
        got = await take(stream, 3)  # 3, 4, 5 from the ring
        # A change that landed in the ring before registration and is published after it
        # reaches both the replay and the queue: it must be sent once.
        _, change = view.apply_availability("p", rec("p", 6))
        assert change is not None
        bc.publish([change])
        apply(view, bc, "p", 7)
        got += await take(stream, 2)
        await stream.aclose()
        return [str(e.id) for e in got]

    assert asyncio.run(main()) == ["3", "4", "5", "6", "7"]


def test_registered_before_reading_the_ring_a_concurrent_change_is_sent_once() -> None:
    async def main() -> list[str]:
        view, bc, _ = setup()
        apply(view, bc, "p", 1)
        _, pending = view.apply_availability("p", rec("p", 2))  # in the ring, not yet published
        assert pending is not None
        stream = event_stream(view, bc, StreamFilter(ALL), last_event_id=1)
        first = await take(stream, 1)
        bc.publish([pending])  # the loader's publish arrives late
        apply(view, bc, "p", 3)
        rest = await take(stream, 1)
        await stream.aclose()
        return [str(e.id) for e in first + rest]

    assert asyncio.run(main()) == ["2", "3"]


def test_fresh_stream_says_hello_with_the_current_position() -> None:
    async def main() -> ServerSentEvent:
        view, bc, _ = setup()
        apply(view, bc, "p", 1)
        stream = event_stream(view, bc, StreamFilter(ALL), last_event_id=None)
        [hello] = await take(stream, 1)
        await stream.aclose()
        return hello

    hello = asyncio.run(main())
    assert hello.event == "hello" and hello.id == "1"


def test_last_event_id_older_than_the_ring_sends_reset_then_live() -> None:
    async def main() -> list[ServerSentEvent]:
        view, bc, metrics = setup(ring=100)
        for v in range(1, 151):
            apply(view, bc, "p", v)
        stream = event_stream(view, bc, StreamFilter(ALL), last_event_id=3)
        [reset] = await take(stream, 1)
        apply(view, bc, "p", 151)
        [live] = await take(stream, 1)
        await stream.aclose()
        assert metrics.sse_resets._value.get() == 1
        return [reset, live]

    reset, live = asyncio.run(main())
    assert reset.event == "reset" and reset.id == "150"
    assert "refetch" in json.loads(str(reset.data))["reason"]
    assert live.id == "151"


def test_filters_by_topic_performance_and_region() -> None:
    async def main() -> list[str]:
        view, bc, _ = setup()
        filt = StreamFilter(parse_topics("availability"), performance_id="a", region="utrecht")
        stream = event_stream(view, bc, filt, last_event_id=0)
        apply(view, bc, "b", 1)
        apply(view, bc, "a", 2, region="Gelderland")
        apply(view, bc, "a", 3)
        _, offer = view.apply_lastminute("a", {"performance_id": "a", "title": "t", "venue_name": "v",
                                               "region": "Utrecht", "start": NOW, "remaining": 1,
                                               "capacity": 2, "status": "LIMITED", "updated_at": NOW})
        assert offer is not None
        bc.publish([offer])
        apply(view, bc, "a", 4)
        got = await take(stream, 2)
        await stream.aclose()
        return [f"{e.event}:{e.id}" for e in got]

    assert asyncio.run(main()) == ["availability:3", "availability:5"]


def test_slow_client_is_dropped_and_others_keep_receiving() -> None:
    async def main() -> tuple[list[str], float, float]:
        view, bc, metrics = setup(queue=4)
        slow = event_stream(view, bc, StreamFilter(ALL), last_event_id=0)
        fast = event_stream(view, bc, StreamFilter(ALL), last_event_id=0)
        # Both streams registered (first __anext__ runs until the first get()).
        slow_first = asyncio.ensure_future(slow.__anext__())
        fast_first = asyncio.ensure_future(fast.__anext__())
        await asyncio.sleep(0)
        fast_ids = []
        for v in range(1, 11):
            apply(view, bc, "p", v)  # never blocks, whatever the slow client does
            if v == 1:
                fast_ids.append(str((await fast_first).id))
            else:
                fast_ids.append(str((await take(fast, 1))[0].id))
        # The slow client got its first event, then fell 4+ behind: its stream ends.
        await slow_first
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(slow.__anext__(), 5)
        await fast.aclose()
        return (fast_ids, metrics.sse_dropped.labels("overflow")._value.get(),
                metrics.sse_clients._value.get())

    fast_ids, dropped, clients = asyncio.run(main())
    assert fast_ids == [str(i) for i in range(1, 11)]
    assert dropped == 1
    assert clients == 0


def test_close_ends_every_stream() -> None:
    async def main() -> None:
        view, bc, _ = setup()
        stream = event_stream(view, bc, StreamFilter(ALL), last_event_id=0)
        pending = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0)
        bc.close()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(pending, 5)

    asyncio.run(main())


def test_last_event_id_header_wins_over_the_query_parameter() -> None:
    assert parse_last_event_id("42", "7") == 42
    assert parse_last_event_id(None, "7") == 7
    assert parse_last_event_id(None, None) is None


@pytest.mark.parametrize(("header", "query", "name"), [("abc", None, "Last-Event-ID"),
                                                       (None, "x1", "last_event_id"),
                                                       (None, "-4", "last_event_id")])
def test_malformed_last_event_id_names_the_parameter(header: str | None, query: str | None, name: str) -> None:
    with pytest.raises(BadParameterError) as err:
        parse_last_event_id(header, query)
    assert err.value.parameter == name


def test_unknown_topic_is_refused_by_name() -> None:
    with pytest.raises(BadParameterError) as err:
        parse_topics("availability,sales")
    assert err.value.parameter == "topics" and "sales" in str(err.value)


def test_sse_parser_reads_events_ids_and_skips_comments() -> None:
    body = [": heartbeat", "", "event: availability", "id: 7", "data: {\"a\":1}", "",
            "event: reset", "data: x", "data: y", ""]
    events = list(parse_sse(body))
    assert [(e.event, e.id, e.data) for e in events] == [("availability", "7", '{"a":1}'),
                                                           ("reset", "7", "x\ny")]
