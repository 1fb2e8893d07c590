"""The tables' JSON: Faust's json codec's bytes, held at their own size."""

from __future__ import annotations

import tracemalloc

import faust

from streams.store import dumps, loads


def _held_bytes(values: list[object]) -> tuple[list[bytes], int]:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [dumps(v) for v in values]
        return kept, tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_keys_and_values_are_faust_s_json_bytes_and_a_thousand_keys_are_held_at_their_own_size() -> None:
    faust_json = faust.serializers.codecs.get_codec("json")
    keys = [f"d|2026-12-{n % 28 + 1:02d}|dip|production|{n}" for n in range(1000)]
    values = [{"keys": [k], "n": 3, "count": 7, "f": "AAEC" * 50, "t": None, "x": 1.5} for k in keys]
    ours, held = _held_bytes(keys)
    assert ours == [faust_json.dumps(k) for k in keys]  # the tables' stored keys do not change
    assert [dumps(v) for v in values] == [faust_json.dumps(v) for v in values]
    assert [loads(dumps(v)) for v in values] == values
    # a batch holds thousands of encoded keys until its changelog writes are sent; at ~60 bytes
    # each, not the 4 KB block orjson wrote them into
    assert held < 1000 * 200, held
