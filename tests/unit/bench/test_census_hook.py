"""The worker-memory census (``bench.census_hook``): what it says a process holds."""

from __future__ import annotations

import json

from bench.census_hook import census


def test_copies_of_one_text_are_counted_as_copies_under_their_holder_and_one_object_is_not() -> None:
    text = '"Stadsschouwburg Groningen, Grote Zaal: the same text in every record"'
    shared = [json.loads(text)] * 20_000  # one object in every slot
    before = dict(census()["copies_mb"]).get("str in list", 0.0)
    # each json.loads makes a new string object of the same text, as decoding records does
    held = [json.loads(text) for _ in range(20_000)]
    report = census()
    after = dict(report["copies_mb"]).get("str in list", 0.0)
    assert after - before >= 20_000 * 100 / 2**20 * 0.9, (before, after)  # ~1.9 MB of copies
    assert before < 1.0, before
    assert report["atoms_mb"]["str"] >= after
    assert {"in_use", "free", "mmapped"} <= set(report["malloc_mb"])
    assert report["pymalloc"]["arenas_allocated_current"] > 0
    assert any(name == "list" for name, _count, _mb in report["types"])
    assert len(held) == len(shared)
