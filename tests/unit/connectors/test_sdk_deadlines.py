"""``Deadlines``: waits resolved at their deadline by one timer per event loop, and left
alone when they end in time."""

from __future__ import annotations

import asyncio

from connectors.sdk.deadlines import Deadlines


def test_a_wait_past_its_deadline_is_resolved_and_one_that_ended_in_time_is_left_alone() -> None:
    async def run() -> tuple[list[bool], list[object], int]:
        loop = asyncio.get_running_loop()
        deadlines = Deadlines(tick=0.01)
        late, prompt = loop.create_future(), loop.create_future()
        deadlines.resolve_after(late, 0.05)
        deadlines.resolve_after(prompt, 0.05)
        prompt.set_result("acked")
        before = [late.done()]
        await asyncio.wait_for(late, 5)
        await asyncio.sleep(0.05)  # a sweep with nothing left disarms the timer
        sweep = deadlines._sweeps[loop]
        return before + [sweep.armed], [late.result(), prompt.result()], len(sweep.pending)

    (done_before, armed_after), results, pending = asyncio.run(run())
    assert not done_before
    assert results == [None, "acked"]
    assert (armed_after, pending) == (False, 0)


def test_a_cancelled_wait_is_forgotten_and_waits_on_two_loops_are_kept_apart() -> None:
    deadlines = Deadlines(tick=0.01)

    async def run() -> int:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        deadlines.resolve_after(fut, 60)
        fut.cancel()
        other = loop.create_future()
        deadlines.resolve_after(other, 0.02)
        await other
        return len(deadlines._sweeps[loop].pending)

    assert asyncio.run(run()) == 0
    assert asyncio.run(run()) == 0


def test_a_loop_closed_with_a_wait_pending_is_forgotten_when_the_next_loop_waits() -> None:
    deadlines = Deadlines(tick=0.01)
    first = asyncio.new_event_loop()
    first.run_until_complete(asyncio.sleep(0))
    deadlines.resolve_after(first.create_future(), 60)  # abandoned: the loop closes first
    first.close()

    async def wait() -> None:
        fut = asyncio.get_running_loop().create_future()
        deadlines.resolve_after(fut, 0.02)
        await fut

    asyncio.run(wait())
    assert first not in deadlines._sweeps
