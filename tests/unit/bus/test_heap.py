"""``bus.heap.settle``: what a role holds at start-up is frozen out of the collector's way
and the young generation is collected less often (in a process of its own, as a role)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_settle_freezes_what_exists_and_collects_the_young_generation_less_often() -> None:
    code = ("import gc, json; from bus.heap import YOUNG, settle; before = gc.get_threshold(); "
            "settle(); print(json.dumps([gc.get_freeze_count(), before, gc.get_threshold(), YOUNG]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         timeout=60)
    frozen, before, after, young = json.loads(out.stdout)
    assert frozen > 1_000  # the interpreter and the modules imported
    assert after == [young, *before[1:]] and young > before[0]


def test_settle_can_keep_pythons_threshold() -> None:
    code = ("import gc, json; from bus.heap import settle; before = gc.get_threshold(); "
            "settle(young=None); print(json.dumps([gc.get_freeze_count(), before, gc.get_threshold()]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         timeout=60)
    frozen, before, after = json.loads(out.stdout)
    assert frozen > 1_000 and after == before
