"""The benchmark harness cannot rot: ``python -m bench --smoke`` runs every part (tiny
sizes) against the test stack and writes every number issue #7 asks for, and the tables:
a publish rate for every connector kind and what the Faust runtime alone costs. The
security part (issue #15) compares its broker's SASL and PLAINTEXT listeners, so it runs
on the bench's own stack, which has both."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.options import PARTS
from ops.stack.settings import ADMIN

pytestmark = [pytest.mark.integration]

REPO = Path(__file__).resolve().parents[3]

REQUIRED = {
    "ceilings": ("kafka_produce_eps", "kafka_consume_eps", "fastavro_decode_rps", "clickhouse_insert_rps"),
    "pipeline": ("connector_webhook_eps", "streams_eps_1w", "streams_eps_2w", "sink_rps", "e2e_eps"),
    "latency_ms": ("availability_p50_at_1000", "availability_p99_at_1000", "sse_p99_at_1000"),
    "peers": ("quix_eps", "plain_loop_eps", "quix_eps_per_cpu_s", "quix_job_eps", "quix_job_eps_per_cpu_s"),
    "ratios": ("streams_vs_consume_ceiling", "streams_vs_quix", "streams_vs_plain_loop",
               "sink_vs_insert_ceiling", "streams_vs_quix_job_per_cpu_s", "availability_only_vs_quix_per_cpu_s"),
}
#: issue #14: per CPU-second of the worker, whole job and availability only
PER_CPU = ("streams_eps_per_cpu_s_1w", "streams_eps_per_cpu_s_2w", "streams_availability_only_eps_per_cpu_s")
CONNECTOR_KINDS = ("webhook_eventix", "webhook_eventbrite", "webhook_stager", "eventstream", "dip_receiver",
                   "dip_poller", "dip_calendar", "csv_file", "uitdatabank", "schemaorg", "ical")
WALLS = ("faust_iterate", "faust_take", "faust_take_decode", "faust_drain_decode", "plain_decode")


def _positive(x: object) -> bool:
    return isinstance(x, int | float) and x > 0


@pytest.mark.timeout(660)  # every part of the bench runs once (about four minutes on a busy two-core machine)
def test_smoke_run_writes_every_number_the_issue_asks_for_and_the_table(stack, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CULTUURBUS_")}
    env.update(stack.client_env(ADMIN))  # the bench connects as admin, its roles as themselves
    env.update({"CULTUURBUS_STACK_DIR": str(stack.dir),  # where the roles' passwords are
                "CULTUURBUS_REGISTRY__URL": stack.registry_url,
                "CULTUURBUS_CLICKHOUSE__URL": stack.clickhouse_url,
                "CULTUURBUS_CONFIG_FILE": os.devnull})
    out = tmp_path / "latest.json"
    on_test_stack = [f"--only={part}" for part in PARTS if part != "security"]
    proc = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--use-env-stack", *on_test_stack,
                           "--out", str(out)], cwd=REPO, env=env, capture_output=True, text=True, timeout=540)
    assert proc.returncode == 0, f"bench failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"

    doc = json.loads(out.read_text())
    assert doc["machine"]["cpu_model"] and doc["machine"]["cores"] > 0 and doc["machine"]["memory_gb"] > 0
    missing = [f"{section}.{key}" for section, keys in REQUIRED.items() for key in keys
               if not _positive(doc[section].get(key))]
    assert not missing, f"absent or not positive: {missing}"
    assert all(_positive(doc["pipeline"].get(k)) for k in PER_CPU), {k: doc["pipeline"].get(k) for k in PER_CPU}
    lat = doc["latency_ms"]
    assert _positive(lat.get("capacity_eps")) and _positive(lat.get("availability_p99_at_half_capacity")), lat
    hops = doc["details"]["latency"][str(lat["half_capacity_eps"])]["hops"]  # each fact's time, split
    assert hops["joined"] > 0 and all(_positive(hops[h].get("p99"))
                                      for h in ("to_rekeyed", "to_availability", "to_subscriber")), hops
    rates = doc["pipeline"]["connectors_eps"]
    assert list(rates) == list(CONNECTOR_KINDS) and all(_positive(v) for v in rates.values()), rates
    assert rates["webhook_eventix"] == doc["pipeline"]["connector_webhook_eps"]
    again = doc["details"]["connectors"]["csv_file"]["second_import"]
    assert again["published"] == 0 and again["whole_file_skipped"], f"a second import published: {again}"
    assert " 0 published" in doc["details"]["connectors"]["csv_file"]["second_import_cli"]["line"]
    assert list(doc["walls"]) == list(WALLS), doc["walls"]
    slow = {name: w for name, w in doc["walls"].items()
            if not (_positive(w["eps"]) and _positive(w["eps_per_cpu_s"]))}
    assert not slow, f"walls without positive events/s or events per CPU-second: {slow}"
    for role in ("streams_worker", "sink", "gateway", "webhook_receiver"):
        sizes = doc["rss_mb"][role]
        assert sizes and all(mb > 0 for mb in sizes.values()), f"peak RSS of {role}: {sizes}"
    assert set(doc["profile"]) == {"streams_worker", "sink"}
    assert [g["key"] for g in doc["goals"]] == ["ratios.streams_vs_consume_ceiling", "ratios.streams_vs_quix",
                                               "latency_ms.availability_p99_at_1000",
                                               "latency_ms_worker_alone.availability_p99_at_1000",
                                               "ratios.sink_vs_insert_ceiling",
                                               "ratios.streams_vs_quix_job_per_cpu_s",
                                               "ratios.availability_only_vs_quix_per_cpu_s",
                                               "latency_ms.availability_p99_at_half_capacity",
                                               "latency_ms.sse_p99_at_half_capacity"]
    for mode in ("linked", "real"):  # matching in the worker: a real-rules season against a linked one
        ident = doc["identity"][mode]
        assert _positive(ident["facts_per_cpu_s"]) and ident["performances_seen"] > 0, ident
    alone = doc["latency_ms_worker_alone"]
    assert alone.get("availability_p99_at_1000", 0) > 0, f"worker-alone latency: {alone}"

    table = out.with_suffix(".md").read_text()
    for row in ("| streams worker, 1 worker (events/s) |", "| Quix Streams peer (events/s) |",
                "| ClickHouse sink (rows/s) |", "| goal (issues #7, #14) |", "| 1,000 |",
                "| Quix Streams peer, the whole job (re-key + availability, attendance, sales) |",
                "(half the capacity) |", "Capacity of the pipeline", "| offered events/s | fact -> re-keyed fact |",
                "Connector publish rates", "| box-office CSV import |", "| iCalendar feed |",
                "What the Faust runtime costs", "| plain confluent-kafka loop + fastavro decode |",
                "with the streams worker alone on the machine", "| worker, real rules / linked, per CPU-second |"):
        assert row in table, f"{row!r} missing from the Markdown table"
    assert table in proc.stdout, "the table is printed at the end of the run"


@pytest.mark.timeout(240)  # the bench's own stack (about 15 s) and the part (about 30 s)
def test_smoke_security_part_measures_the_trust_layer_with_and_without_and_revocation(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CULTUURBUS_")}
    env["CULTUURBUS_CONFIG_FILE"] = os.devnull
    out = tmp_path / "security.json"
    proc = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--only", "security", "--no-profile",
                           "--out", str(out)], cwd=REPO, env=env, capture_output=True, text=True, timeout=200)
    assert proc.returncode == 0, f"bench failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"

    sec = json.loads(out.read_text())["security"]
    numbers = {f"{what}.{side}.{key}": sec[what][side].get(key) for what in ("produce", "streams")
               for side in ("with", "without") for key in ("eps", "cpu_seconds", "eps_per_cpu_s")}
    numbers |= {f"streams.tenant.{key}": sec["streams"]["tenant"].get(key)
                for key in ("eps", "cpu_seconds", "eps_per_cpu_s")}
    numbers |= {f"{what}.{key}": sec[what].get(key) for what in ("produce", "streams")
                for key in ("ratio_eps", "ratio_eps_per_cpu_s")}
    numbers |= {f"streams.{key}": sec["streams"].get(key)
                for key in ("ratio_tenant_with_eps", "ratio_tenant_with_eps_per_cpu_s")}
    numbers |= {f"connect_ms.{key}": sec["connect_ms"].get(key) for key in ("with", "without", "ratio")}
    rev = sec["revocation"]
    numbers |= {f"revocation.{key}": rev.get(key) for key in ("max_produce_refused_s", "max_login_refused_s")}
    assert not [k for k, v in numbers.items() if not _positive(v)], f"absent or not positive: {numbers}"
    # the first refusals come within seconds, and the tenant that stayed lost nothing
    assert rev["max_produce_refused_s"] < 30 and rev["max_login_refused_s"] < 30, rev
    # every ticket fact the vendor tenant sent was counted: one accepted copy each
    assert sec["streams"]["tenant_all_accepted"], sec["streams"]["tenant_accepted_copies"]
    other = rev["other_tenant"]
    assert other["acknowledged"] > 0 and other["lost"] == 0 and other["errors"] == 0, other

    table = out.with_suffix(".md").read_text()
    for row in ("Trust layer", "| produce (the project's producer), events/s |",
                "| streams worker, events per worker CPU-second |", "| new client, first metadata answer (ms; median) |",
                "first refused produce (TOPIC_AUTHORIZATION_FAILED)", "| measure | tenant | with SASL + ACLs |"):
        assert row in table, f"{row!r} missing from the Markdown table"
