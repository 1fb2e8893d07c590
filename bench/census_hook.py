"""Loaded into a live process as its ``sitecustomize`` (``python -m bench.worker_memory
--census``): when the file ``$BENCH_CENSUS_TRIGGER`` appears, it writes to
``<trigger>.json`` where the process's memory is, without tracemalloc's slowdown:

- ``malloc_mb``: glibc's allocator (``mallinfo2``): in use, free but kept, mmapped;
- ``pymalloc``: Python's small-object allocator (arenas of 1 MiB, bytes in use);
- ``types``: the objects the collector tracks and the untracked tuples and dicts they hold
  (only atoms inside), by type: count and ``sys.getsizeof`` bytes, largest first;
- ``atoms``: the strings, ints and bytes those objects hold: bytes in all, and bytes of
  copies (an equal value already held by another object), by the type of their holder.

Objects frozen at start-up (``bus.heap.settle``) are not in the collector's lists and
are not counted. The walk holds the GIL for a few seconds at 100,000 performances.
"""

from __future__ import annotations

import collections
import ctypes
import gc
import json
import os
import sys
import tempfile
import threading
import time
from typing import Any

_ATOMS = (str, int, bytes)
_CONTAINERS = (tuple, dict, list, set, frozenset)


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
        "keepcost")]


def _malloc_mb() -> dict[str, float]:
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return {"in_use": round(info.uordblks / 2**20, 1), "free": round(info.fordblks / 2**20, 1),
            "mmapped": round(info.hblkhd / 2**20, 1)}


def _pymalloc() -> dict[str, int]:
    """Arenas and bytes in use, from ``sys._debugmallocstats`` (it writes to fd 2)."""
    saved = os.dup(2)
    with tempfile.TemporaryFile() as f:
        os.dup2(f.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        text = f.read().decode(errors="replace")
    out = {}
    for line in text.splitlines():
        name, _, value = line.partition("=")
        name = name.strip().lstrip("# ")
        if name in ("arenas allocated current", "bytes in allocated blocks"):
            out[name.replace(" ", "_")] = int(value.strip().replace(",", ""))
    return out


def _objects() -> dict[str, Any]:
    count: collections.Counter[str] = collections.Counter()
    size: collections.Counter[str] = collections.Counter()
    atoms: dict[int, tuple[type, int, Any, str]] = {}
    todo = gc.get_objects()
    seen = {id(o) for o in todo}
    i = 0
    while i < len(todo):
        o = todo[i]
        i += 1
        holder = type(o).__name__
        count[holder] += 1
        size[holder] += sys.getsizeof(o)
        for r in gc.get_referents(o):
            kind = type(r)
            if kind in _ATOMS:
                if id(r) not in atoms:
                    atoms[id(r)] = (kind, sys.getsizeof(r), r, holder)
            elif kind in _CONTAINERS and id(r) not in seen and not gc.is_tracked(r):
                seen.add(id(r))
                todo.append(r)
    total: collections.Counter[str] = collections.Counter()
    copies: collections.Counter[str] = collections.Counter()
    first: set[tuple[type, Any]] = set()
    for kind, nbytes, value, holder in atoms.values():
        total[kind.__name__] += nbytes
        if (kind, value) in first:
            copies[f"{kind.__name__} in {holder}"] += nbytes
        else:
            first.add((kind, value))
    mb = 2**20
    return {"types": [[name, count[name], round(size[name] / mb, 1)] for name, _ in size.most_common(20)],
            "atoms_mb": {name: round(n / mb, 1) for name, n in total.items()},
            "copies_mb": [[name, round(n / mb, 1)] for name, n in copies.most_common(12)]}


def census() -> dict[str, Any]:
    return {"malloc_mb": _malloc_mb(), "pymalloc": _pymalloc(), **_objects()}


def _watch(trigger: str) -> None:
    while not os.path.exists(trigger):
        time.sleep(0.5)
    try:
        out = census()
    except Exception as exc:  # noqa: BLE001 - reported to the bench, not raised in the worker
        out = {"error": repr(exc)}
    with open(trigger + ".tmp", "w") as f:
        json.dump(out, f)
    os.rename(trigger + ".tmp", trigger + ".json")


if os.environ.get("BENCH_CENSUS_TRIGGER"):
    threading.Thread(target=_watch, args=(os.environ["BENCH_CENSUS_TRIGGER"],), daemon=True,
                     name="bench-census").start()
