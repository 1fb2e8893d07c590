"""The JSON tables' codec: Faust's json bytes, held at their own size."""

from __future__ import annotations

import tracemalloc

import faust

from streams.store import COMPACT_JSON, CompactJson


def _held_bytes(codec: object, values: list[object]) -> tuple[list[bytes], int]:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [codec.dumps(v) for v in values]  # type: ignore[attr-defined]
        return kept, tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_the_codec_writes_faust_s_json_bytes_and_keeps_a_thousand_keys_in_their_own_size() -> None:
    faust_json = faust.serializers.codecs.get_codec("json")
    keys = [f"d|2026-12-{n % 28 + 1:02d}|dip|production|{n}" for n in range(1000)]
    values = [{"keys": [k], "n": 3, "count": 7, "f": "AAEC" * 50} for k in keys]
    ours, held = _held_bytes(CompactJson(), keys)
    assert ours == [faust_json.dumps(k) for k in keys]  # the tables' stored keys do not change
    assert [CompactJson().loads(CompactJson().dumps(v)) for v in values] == values
    # a table's store keeps 1,000 encoded keys in its key index; at ~60 bytes each, not 4 KB
    assert held < 1000 * 200, held
    assert faust.serializers.codecs.get_codec(COMPACT_JSON).dumps(keys[0]) == ours[0]
