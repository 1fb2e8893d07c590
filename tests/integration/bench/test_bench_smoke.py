"""The benchmark harness cannot rot: ``python -m bench --smoke`` runs every part (tiny
sizes) against the test stack and writes every number issue #7 asks for, and the table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration]

REPO = Path(__file__).resolve().parents[3]

REQUIRED = {
    "ceilings": ("kafka_produce_eps", "kafka_consume_eps", "fastavro_decode_rps", "clickhouse_insert_rps"),
    "pipeline": ("connector_webhook_eps", "streams_eps_1w", "streams_eps_2w", "sink_rps", "e2e_eps"),
    "latency_ms": ("availability_p50_at_1000", "availability_p99_at_1000", "sse_p99_at_1000"),
    "peers": ("quix_eps", "plain_loop_eps"),
    "ratios": ("streams_vs_consume_ceiling", "streams_vs_quix", "streams_vs_plain_loop",
               "sink_vs_insert_ceiling"),
}


def test_smoke_run_writes_every_number_the_issue_asks_for_and_the_table(stack, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CULTUURBUS_")}
    env.update({"CULTUURBUS_KAFKA__BOOTSTRAP_SERVERS": stack.kafka_bootstrap,
                "CULTUURBUS_REGISTRY__URL": stack.registry_url,
                "CULTUURBUS_CLICKHOUSE__URL": stack.clickhouse_url,
                "CULTUURBUS_CONFIG_FILE": os.devnull})
    out = tmp_path / "latest.json"
    proc = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--use-env-stack", "--out", str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, f"bench failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"

    doc = json.loads(out.read_text())
    assert doc["machine"]["cpu_model"] and doc["machine"]["cores"] > 0 and doc["machine"]["memory_gb"] > 0
    missing = [f"{section}.{key}" for section, keys in REQUIRED.items() for key in keys
               if not (isinstance(doc[section].get(key), int | float) and doc[section][key] > 0)]
    assert not missing, f"absent or not positive: {missing}"
    for role in ("streams_worker", "sink", "gateway", "webhook_receiver"):
        sizes = doc["rss_mb"][role]
        assert sizes and all(mb > 0 for mb in sizes.values()), f"peak RSS of {role}: {sizes}"
    assert set(doc["profile"]) == {"streams_worker", "sink"}
    assert [g["key"] for g in doc["goals"]] == ["ratios.streams_vs_consume_ceiling", "ratios.streams_vs_quix",
                                               "latency_ms.availability_p99_at_1000",
                                               "ratios.sink_vs_insert_ceiling"]

    table = out.with_suffix(".md").read_text()
    for row in ("| streams worker, 1 worker (events/s) |", "| Quix Streams peer (events/s) |",
                "| ClickHouse sink (rows/s) |", "| goal (issue #7) |", "| 1,000 |"):
        assert row in table, f"{row!r} missing from the Markdown table"
    assert table in proc.stdout, "the table is printed at the end of the run"
