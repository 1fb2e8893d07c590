"""Results: the parts' raw numbers folded into the JSON the issue asks for (``machine``,
``ceilings``, ``pipeline`` (with ``connectors_eps`` per connector kind), ``latency_ms``,
``peers``, ``ratios``, ``rss_mb``, plus ``walls`` (what the Faust runtime alone costs),
``scaling``, ``profile``, ``goals`` and every part's ``details``). Its Markdown tables are
in ``bench/report_markdown.py``; ``markdown`` is imported from there.

A run of some parts only (``--only``) updates those parts in the existing results and
keeps the others, so the ratios always use the newest number of each side.
"""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report_markdown import markdown
from bench.roles import REPO
from bench.trust_report import fold_security

__all__ = ["GOALS", "fold", "machine_info", "markdown"]

#: The goals of issues #7 and #14: (key, what, target, higher is better).
GOALS = (
    ("ratios.streams_vs_consume_ceiling", "streams worker / raw consume ceiling", 0.25, True),
    ("ratios.streams_vs_quix", "streams worker / Quix Streams peer", 1.5, True),
    ("latency_ms.availability_p99_at_1000", "p99 fact -> availability at 1,000/s (ms)", 100.0, False),
    ("latency_ms_worker_alone.availability_p99_at_1000",
     "p99 fact -> availability at 1,000/s, worker alone (ms)", 100.0, False),
    ("ratios.sink_vs_insert_ceiling", "ClickHouse sink / raw insert ceiling", 0.40, True),
    # issue #14
    ("ratios.streams_vs_quix_job_per_cpu_s", "whole job per CPU-s / Quix whole job (#14)", 1.0, True),
    ("ratios.availability_only_vs_quix_per_cpu_s", "availability only per CPU-s / Quix (#14)", 1.0, True),
    ("latency_ms.availability_p99_at_half_capacity", "p99 fact -> availability at half capacity (ms, #14)",
     100.0, False),
    ("latency_ms.sse_p99_at_half_capacity", "p99 fact -> SSE at half capacity (ms, #14)", 250.0, False),
)


def machine_info() -> dict[str, Any]:
    """CPU model, cores, memory, load, Python and OS of this machine."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {"cpu_model": cpu, "cores": os.cpu_count() or 0, "memory_gb": round(mem_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "os": f"{platform.system()} {platform.release()}",
            "load_1m": os.getloadavg()[0]}


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            return ""

    return {"commit": git("rev-parse", "HEAD").strip() or None,
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no").strip())}


def _r(x: float, nd: int = 1) -> float:
    return round(float(x), nd)


def _get(d: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


def fold(prev: dict[str, Any] | None, parts: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """The results document: ``prev`` (an earlier run's) updated with ``parts``."""
    r: dict[str, Any] = dict(prev or {})
    for key in ("ceilings", "pipeline", "latency_ms", "latency_ms_worker_alone", "peers", "ratios", "rss_mb",
                "profile", "details", "walls"):
        r[key] = dict(r.get(key) or {})
    r.update({k: v for k, v in meta.items() if k != "parts"})
    r["parts_run"] = meta["parts"]
    r["runs"] = [*(r.get("runs") or [])[-9:], {k: meta[k] for k in ("generated_at", "mode", "parts", "wall_s",
                                                                     "load_1m_start", "load_1m_end")}]
    details = r["details"]
    rss: dict[str, dict[str, float]] = r["rss_mb"]
    for name, raw in parts.items():
        details[name] = raw
    c = parts.get("ceilings")
    if c and "error" not in c:
        r["ceilings"] = {k: _r(c[k]) for k in ("kafka_produce_eps", "kafka_consume_eps",
                                               "fastavro_encode_rps", "fastavro_decode_rps",
                                               "clickhouse_insert_rps")}
    p = r["pipeline"]
    conn = parts.get("connectors")
    if conn and "error" not in conn:
        p["connector_webhook_eps"] = _r(conn["webhook"]["eps"])
        p["connector_poller_eps"] = _r(conn["poller"]["eps"])
        p["connectors_eps"] = {kind: _r(eps) for kind, eps in (conn.get("eps") or {}).items()}
        rss["webhook_receiver"] = {"load": conn["webhook"]["rss_mb"]}
        if "rss_mb" in (conn.get("dip_receiver") or {}):
            rss["dip_receiver"] = {"load": conn["dip_receiver"]["rss_mb"]}
    wa = parts.get("walls")
    if wa and "error" not in wa:
        r["walls"] = {name: {"eps": _r(v["eps"]), "eps_per_cpu_s": _r(v["eps_per_cpu_s"])}
                      for name, v in wa.items() if isinstance(v, dict) and "eps" in v}
    st = parts.get("streams")
    if st and "error" not in st:
        p["streams_eps_1w"] = _r(st["1w"]["eps"])
        p["streams_eps_2w"] = _r(st["2w"]["eps"])
        for w in ("1w", "2w"):
            if st[w].get("eps_per_cpu_s"):
                p[f"streams_eps_per_cpu_s_{w}"] = _r(st[w]["eps_per_cpu_s"])
        av_only = st.get("availability_only") or {}
        if av_only.get("eps_per_cpu_s"):
            p["streams_availability_only_eps"] = _r(av_only["eps"])
            p["streams_availability_only_eps_per_cpu_s"] = _r(av_only["eps_per_cpu_s"])
        if "profile" in st["1w"]:
            r["profile"]["streams_worker"] = st["1w"]["profile"]
        if "latency_at_1000" in st["1w"]:
            r["latency_ms_worker_alone"] = _latency_keys({"1000": st["1w"]["latency_at_1000"]})
    sk = parts.get("sink")
    if sk and "error" not in sk:
        p["sink_rps"] = _r(sk["rps"])
        if (sk.get("two_processes") or {}).get("rps"):
            p["sink_rps_2p"] = _r(sk["two_processes"]["rps"])
        r["ceilings"]["clickhouse_insert_same_rows_rps"] = _r(sk["raw_insert_same_rows"]["rps"])
        if "profile" in sk:
            r["profile"]["sink"] = sk["profile"]
    pe = parts.get("peers")
    if pe and "error" not in pe:
        r["peers"] = {"quix_eps": _r(pe["quix"]["eps"]), "plain_loop_eps": _r(pe["plain_loop"]["eps"])}
        for peer in ("quix", "plain_loop", "quix_job"):
            if (pe.get(peer) or {}).get("eps_per_cpu_s"):
                r["peers"][f"{peer}_eps"] = _r(pe[peer]["eps"])
                r["peers"][f"{peer}_eps_per_cpu_s"] = _r(pe[peer]["eps_per_cpu_s"])
        for peer in ("quix", "plain_loop"):
            rss[f"{peer}_peer"] = {str(pe[peer]["calendar"]["performances"]): pe[peer]["rss_mb"]}
    sc = parts.get("scale")
    if sc and not isinstance(sc, dict):
        r["scaling"] = [{k: (_r(v) if isinstance(v, float) else v) for k, v in size.items() if k != "latency"}
                        for size in sc]
        base = next((x for x in sc if (x["performances"], x["events"]) == meta.get("streams_size")), sc[0])
        p["e2e_eps"] = _r(base["e2e_eps"])
        for size in sc:
            for role, mb in size["rss_mb"].items():
                rss.setdefault(role, {})[str(size["performances"])] = mb
            if "latency" in size:
                r["latency_ms"] = _latency_keys(size["latency"])
                details["latency"] = size["latency"]
    ma = parts.get("matching")
    if ma and "error" not in ma:
        r["matching"] = {k: (_r(v, 4) if isinstance(v, float) else v) for k, v in ma.items()
                         if k not in ("wrong_links", "missed")}
    ident = parts.get("identity")
    if ident and "error" not in ident:
        r["identity"] = ident
    fold_security(r, parts.get("security"))
    r["ratios"] = _ratios(r)
    r["goals"] = [{"goal": what, "key": key, "value": _get(r, key), "target": target,
                   "met": None if _get(r, key) is None else
                   (_get(r, key) >= target if higher else _get(r, key) <= target)}
                  for key, what, target, higher in GOALS]
    return r


def _latency_keys(lat: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    half = lat.get("half_capacity_eps")
    if half:
        out["capacity_eps"], out["half_capacity_eps"] = lat["capacity_eps"], half
        for where in ("availability", "sse"):
            value = (lat.get(str(half)) or {}).get(where, {}).get("p99")
            if value is not None:
                out[f"{where}_p99_at_half_capacity"] = value
    for rate, phase in lat.items():
        if not isinstance(phase, dict):
            continue
        for where in ("availability", "clickhouse", "sse"):
            for q in ("p50", "p95", "p99", "max"):
                if q in phase.get(where, {}):
                    out[f"{where}_{q}_at_{rate}"] = phase[where][q]
    return out


def _ratios(r: dict[str, Any]) -> dict[str, float]:
    p, c, peers = r["pipeline"], r["ceilings"], r["peers"]
    pairs = {
        "streams_vs_consume_ceiling": (p.get("streams_eps_1w"), c.get("kafka_consume_eps")),
        "streams_vs_quix": (p.get("streams_eps_1w"), peers.get("quix_eps")),
        "streams_vs_plain_loop": (p.get("streams_eps_1w"), peers.get("plain_loop_eps")),
        "streams_vs_quix_per_cpu_s": (p.get("streams_eps_per_cpu_s_1w"), peers.get("quix_eps_per_cpu_s")),
        # like for like (issue #14): the whole job against the Quix whole job, availability only
        # against the Quix availability peer
        "streams_vs_quix_job_per_cpu_s": (p.get("streams_eps_per_cpu_s_1w"),
                                          peers.get("quix_job_eps_per_cpu_s")),
        "streams_vs_quix_job": (p.get("streams_eps_1w"), peers.get("quix_job_eps")),
        "availability_only_vs_quix_per_cpu_s": (p.get("streams_availability_only_eps_per_cpu_s"),
                                                peers.get("quix_eps_per_cpu_s")),
        "availability_only_vs_quix": (p.get("streams_availability_only_eps"), peers.get("quix_eps")),
        "streams_vs_plain_loop_per_cpu_s": (p.get("streams_eps_per_cpu_s_1w"),
                                            peers.get("plain_loop_eps_per_cpu_s")),
        # the sink against a raw insert of the very rows it wrote (its mix of tables), when measured
        "sink_vs_insert_ceiling": (p.get("sink_rps"), c.get("clickhouse_insert_same_rows_rps")
                                   or c.get("clickhouse_insert_rps")),
        "sink_2p_vs_insert_ceiling": (p.get("sink_rps_2p"), c.get("clickhouse_insert_same_rows_rps")),
        "sink_vs_ticket_insert_ceiling": (p.get("sink_rps"), c.get("clickhouse_insert_rps")),
        "streams_2w_vs_1w": (p.get("streams_eps_2w"), p.get("streams_eps_1w")),
        "e2e_vs_streams": (p.get("e2e_eps"), p.get("streams_eps_1w")),
        "webhook_vs_produce_ceiling": (p.get("connector_webhook_eps"), c.get("kafka_produce_eps")),
    }
    return {k: float(f"{a / b:.4g}") for k, (a, b) in pairs.items() if a and b}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
