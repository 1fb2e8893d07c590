"""The latency part says where the cores went during each load: CPU-seconds per process
(read from /proc) and the machine's busy cores, and the results table shows them."""

from __future__ import annotations

import os
import time

from bench.latency import _cpu_while
from bench.report import fold, markdown


def test_a_load_counts_the_cpu_each_process_used_and_the_busy_cores() -> None:
    since = _cpu_while({"this test": os.getpid()})
    t0, cpu0 = time.monotonic(), time.process_time()
    while time.process_time() - cpu0 < 0.3:  # busy until this process used 0.3 CPU-seconds
        pass
    used, seconds = time.process_time() - cpu0, time.monotonic() - t0
    got = since(seconds)
    assert abs(got["cpu_s"]["this test"] - used) <= 0.05  # /proc counts in 10 ms ticks
    assert got["machine_busy_cores"] * seconds >= used - 0.05  # at least this process's share


def test_the_results_table_shows_each_process_per_load() -> None:
    latency = {"capacity_eps": 1800.0, "half_capacity_eps": 900,
               "900": {"offered_eps": 900, "cpu_s": {"streams worker": 9.5, "sink": 4.25, "kafka": 3.0},
                       "machine_busy_cores": 1.71},
               "500": {"offered_eps": 500, "cpu_s": {"streams worker": 5.0, "sink": 2.5, "kafka": 1.5},
                       "machine_busy_cores": 0.92}}
    doc = fold(None, {"latency": latency}, {"parts": ["latency"], "generated_at": "t", "mode": "custom",
                                            "wall_s": 1, "load_1m_start": 0, "load_1m_end": 0})
    table = markdown(doc)
    assert "| offered events/s | streams worker | sink | kafka | busy cores |" in table
    rows = [line for line in table.splitlines() if line.startswith(("| 500 |", "| 900 |"))]
    assert rows == ["| 500 | 5 | 2.5 | 1.5 | 0.92 |", "| 900 | 9.5 | 4.25 | 3 | 1.71 |"]
