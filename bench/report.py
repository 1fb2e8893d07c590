"""Results: the parts' raw numbers folded into the JSON the issue asks for (``machine``,
``ceilings``, ``pipeline`` (with ``connectors_eps`` per connector kind), ``latency_ms``,
``peers``, ``ratios``, ``rss_mb``, plus ``walls`` (what the Faust runtime alone costs),
``scaling``, ``profile``, ``goals`` and every part's ``details``), and its Markdown tables.

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

from bench.roles import REPO
from bench.trust_report import fold_security, security_table

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
        "sink_vs_ticket_insert_ceiling": (p.get("sink_rps"), c.get("clickhouse_insert_rps")),
        "streams_2w_vs_1w": (p.get("streams_eps_2w"), p.get("streams_eps_1w")),
        "e2e_vs_streams": (p.get("e2e_eps"), p.get("streams_eps_1w")),
        "webhook_vs_produce_ceiling": (p.get("connector_webhook_eps"), c.get("kafka_produce_eps")),
    }
    return {k: float(f"{a / b:.4g}") for k, (a, b) in pairs.items() if a and b}


def _n(x: Any, unit: str = "") -> str:
    if x is None:
        return "–"
    if isinstance(x, float) and x < 10:
        return f"{x:.3g}{unit}"
    return f"{x:,.0f}{unit}"


def markdown(r: dict[str, Any]) -> str:
    """The short Markdown report of a results document."""
    m, c, p, lat, peers, ra = (r.get(k) or {} for k in ("machine", "ceilings", "pipeline", "latency_ms",
                                                         "peers", "ratios"))
    runs = r.get("runs") or []
    earlier = "" if len(runs) < 2 else (" Parts not in this run keep the numbers of earlier runs: "
                                        + "; ".join(f"{x['generated_at']} ({', '.join(x['parts'])})"
                                                    for x in runs[:-1]) + ".")
    lines = [f"# cultuurbus benchmarks ({r.get('mode', '?')} run, {r.get('generated_at', '?')})", "",
             f"Machine: {m.get('cpu_model')}, {m.get('cores')} cores, {m.get('memory_gb')} GB; load (1 min) "
             f"{r.get('load_1m_start', '?')} at start, {r.get('load_1m_end', '?')} at end. Wall time "
             f"{r.get('wall_s', '?')} s. Commit {str((r.get('git') or {}).get('commit'))[:10]}"
             f"{' (dirty)' if (r.get('git') or {}).get('dirty') else ''}. `{r.get('command', '')}`."
             + earlier, "",
             "| measure | value | ceiling / peer | ratio |", "|---|---:|---:|---:|",
             f"| streams worker, 1 worker (events/s) | {_n(p.get('streams_eps_1w'))} | raw consume "
             f"{_n(c.get('kafka_consume_eps'))} | {_n(ra.get('streams_vs_consume_ceiling'))} |",
             f"| streams worker, 2 workers (events/s) | {_n(p.get('streams_eps_2w'))} | 1 worker | "
             f"{_n(ra.get('streams_2w_vs_1w'))} |",
             f"| Quix Streams peer (events/s) | {_n(peers.get('quix_eps'))} | ours / Quix | "
             f"{_n(ra.get('streams_vs_quix'))} |",
             f"| plain confluent-kafka loop (events/s) | {_n(peers.get('plain_loop_eps'))} | ours / plain | "
             f"{_n(ra.get('streams_vs_plain_loop'))} |",
             f"| ClickHouse sink (rows/s) | {_n(p.get('sink_rps'))} | raw insert, same rows "
             f"{_n(c.get('clickhouse_insert_same_rows_rps'))} | {_n(ra.get('sink_vs_insert_ceiling'))} |",
             f"| raw insert of ticket-fact rows (rows/s) | {_n(c.get('clickhouse_insert_rps'))} | "
             f"sink / it | {_n(ra.get('sink_vs_ticket_insert_ceiling'))} |",
             f"| end to end, worker + sink + gateway (events/s) | {_n(p.get('e2e_eps'))} | 1 worker alone | "
             f"{_n(ra.get('e2e_vs_streams'))} |",
             f"| webhook receiver (facts/s) | {_n(p.get('connector_webhook_eps'))} | raw produce "
             f"{_n(c.get('kafka_produce_eps'))} | {_n(ra.get('webhook_vs_produce_ceiling'))} |",
             f"| eventstream poller (facts/s) | {_n(p.get('connector_poller_eps'))} | | |",
             f"| fastavro decode / encode (records/s) | {_n(c.get('fastavro_decode_rps'))} / "
             f"{_n(c.get('fastavro_encode_rps'))} | | |",
             f"| raw Kafka produce (records/s) | {_n(c.get('kafka_produce_eps'))} | | |", "",
             "Per CPU-second of the process that does the work (the figure that holds on a busy machine; "
             "timed over the same ticket events as the events/s above)", "",
             "| measure | events per CPU-second | ours / it |", "|---|---:|---:|",
             f"| streams worker, 1 worker (the whole job) | {_n(p.get('streams_eps_per_cpu_s_1w'))} | |",
             f"| streams workers, 2 workers (both processes) | {_n(p.get('streams_eps_per_cpu_s_2w'))} | |",
             "| streams worker, availability only (`streams.domains`) | "
             f"{_n(p.get('streams_availability_only_eps_per_cpu_s'))} | |",
             "| Quix Streams peer, the whole job (re-key + availability, attendance, sales) | "
             f"{_n(peers.get('quix_job_eps_per_cpu_s'))} | {_n(ra.get('streams_vs_quix_job_per_cpu_s'))} |",
             f"| Quix Streams peer (availability only, no re-key) | {_n(peers.get('quix_eps_per_cpu_s'))} | "
             f"{_n(ra.get('streams_vs_quix_per_cpu_s'))} (availability only: "
             f"{_n(ra.get('availability_only_vs_quix_per_cpu_s'))}) |",
             "| plain confluent-kafka loop (availability only) | "
             f"{_n(peers.get('plain_loop_eps_per_cpu_s'))} | "
             f"{_n(ra.get('streams_vs_plain_loop_per_cpu_s'))} |", ""]
    lines += ["| goal (issues #7, #14) | value | target | met |", "|---|---:|---:|:-:|"]
    for g in r.get("goals", []):
        met = "–" if g["met"] is None else ("yes" if g["met"] else "no")
        lines.append(f"| {g['goal']} | {_n(g['value'])} | {g['target']} | {met} |")
    lines += _connector_table(r)
    lines += _walls_table(r)
    lines += _matching_table(r)
    lines += security_table(r)
    rates = sorted({int(k.rsplit("_", 1)[1]) for k in lat if k.rsplit("_", 1)[1].isdigit()})
    if rates:
        lines += ["", "Latency from a fact's event time (ms): p50 / p95 / p99 / max", "",
                  "| offered events/s | -> availability topic | -> ClickHouse row | -> SSE client |",
                  "|---:|---|---|---|"]
        for rate in rates:
            cells = [" / ".join(_n(lat.get(f"{w}_{q}_at_{rate}")) for q in ("p50", "p95", "p99", "max"))
                     for w in ("availability", "clickhouse", "sse")]
            half = " (half the capacity)" if rate == lat.get("half_capacity_eps") else ""
            lines.append(f"| {rate:,}{half} | " + " | ".join(cells) + " |")
        if lat.get("capacity_eps"):
            lines += ["", "Capacity of the pipeline (worker, sink, gateway and SSE client on this machine: "
                      "the rate a backlog of ticket events drained at, end to end): "
                      f"{_n(lat['capacity_eps'])} events/s."]
    alone = r.get("latency_ms_worker_alone") or {}
    if alone:
        cell = " / ".join(_n(alone.get(f"availability_{q}_at_1000")) for q in ("p50", "p95", "p99", "max"))
        lines += ["", "The same at 1,000/s with the streams worker alone on the machine (no sink, gateway "
                  f"or SSE client), fact -> availability topic: {cell} ms"]
    if r.get("scaling"):
        lines += ["", "Whole pipeline by size (worker + sink + gateway together; RSS = peak, MB)", "",
                  "| performances | ticket events | calendar/s | streams events/s | end to end events/s | "
                  "RSS worker | RSS sink | RSS gateway |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for s in r["scaling"]:
            rs = s["rss_mb"]
            lines.append(f"| {s['performances']:,} | {s['events']:,} | {_n(s['calendar_pps'])} | "
                         f"{_n(s['streams_eps'])} | {_n(s['e2e_eps'])} | {rs['streams_worker']} | "
                         f"{rs['sink']} | {rs['gateway']} |")
    for role, prof in (r.get("profile") or {}).items():
        if "own" not in prof:
            lines += ["", f"Profile of the {role}: {prof.get('error')}"]
            continue
        lines += ["", f"Hot spots of the {role.replace('_', ' ')} (py-spy --gil, {prof['samples']} samples): "
                      "own time of the leaf Python frame, then total time in the bus's own functions", ""]
        lines += [f"{i}. {h['function']} — {h['percent']}% own" for i, h in enumerate(prof["own"], 1)]
        lines += [f"- {h['function']} — {h['percent']}% total" for h in prof["total"]]
    errors = {k: v["error"] for k, v in (r.get("details") or {}).items()
              if isinstance(v, dict) and "error" in v}
    if errors:
        lines += ["", "Parts that failed: " + "; ".join(f"{k}: {v}" for k, v in errors.items())]
    return "\n".join(lines) + "\n"


#: Markdown names of the connector kinds (``pipeline.connectors_eps`` keys).
KIND_NAMES = {
    "webhook_eventix": "webhook receiver, Eventix/OpenTicket order.paid",
    "webhook_eventbrite": "webhook receiver, Eventbrite (fetches api_url)",
    "webhook_stager": "webhook receiver, Stager (totals per ticket type)",
    "eventstream": "Ticketmatic eventstream poller",
    "dip_receiver": "DIP receiver (PUT cumulative calls)",
    "dip_poller": "DIP cumulative list poller",
    "dip_calendar": "DIP calendar poller",
    "csv_file": "box-office CSV import",
    "uitdatabank": "UiTdatabank Search API poll",
    "schemaorg": "schema.org JSON-LD pages",
    "ical": "iCalendar feed",
}
_DETAIL_OF = {"webhook_eventix": "webhook", "eventstream": "poller"}


def _connector_table(r: dict[str, Any]) -> list[str]:
    eps = (r.get("pipeline") or {}).get("connectors_eps") or {}
    conn = (r.get("details") or {}).get("connectors") or {}
    if not eps:
        return []
    produce = (r.get("ceilings") or {}).get("kafka_produce_eps")
    lines = ["", f"Connector publish rates (facts acknowledged by Kafka per second; raw produce ceiling "
                 f"{_n(produce)} records/s)", "",
             "| kind | facts | seconds | facts/s | / raw produce |", "|---|---:|---:|---:|---:|"]
    for kind, rate in eps.items():
        d = conn.get(_DETAIL_OF.get(kind, kind)) or {}
        ratio = f"{rate / produce:.3g}" if produce else "–"
        lines.append(f"| {KIND_NAMES.get(kind, kind)} | {_n(d.get('facts'))} | {_n(d.get('seconds'))} | "
                     f"{_n(rate)} | {ratio} |")
    broken = {kind: d["error"] for kind, d in conn.items() if isinstance(d, dict) and "error" in d}
    if broken:
        lines += ["", "Connector kinds that failed: " + "; ".join(f"{k}: {v}" for k, v in broken.items())]
    again = (conn.get("csv_file") or {}).get("second_import")
    cli = (conn.get("csv_file") or {}).get("second_import_cli")
    if again:
        lines += ["", f"The same CSV file imported again: {again['published']} facts published, in "
                      f"{1000 * again['seconds']:.1f} ms by the same importer"
                      + (f", in {cli['seconds']:.1f} s as a new `cultuurbus connector file` process "
                         f"(start-up, stored positions read back)" if cli else "") + "."]
    return lines


_WALL_NAMES = {
    "faust_iterate": "empty Faust agent, `async for value in stream`",
    "faust_take": "empty Faust agent, `stream.take_events(1000, within=5 ms)`",
    "faust_take_decode": "the batched Faust agent + fastavro decode",
    "faust_drain_decode": "batches from the agent's queue as our agents take them (`streams.delivery.drain`) "
                          "+ fastavro decode",
    "plain_decode": "plain confluent-kafka loop + fastavro decode",
}


def _f4(x: Any) -> str:
    return "–" if x is None else f"{x:.4f}"


def _matching_table(r: dict[str, Any]) -> list[str]:
    ma = r.get("matching") or {}
    if not ma:
        return []
    s, learn = ma.get("season") or {}, ma.get("learn_per_cpu_s") or {}
    plain, both = learn.get("crosswalk"), learn.get("crosswalk_and_matcher")
    return ["", f"Matching (issue #13, `bench/matching.py`, in process): a real-rules season of "
                f"{s.get('performances')} performances, {s.get('without_sector_id')} of "
                f"{s.get('vendor_events')} vendor events without a sector id; {ma.get('descriptions')} "
                f"published descriptions, {ma.get('needed_matching')} needing a match.", "",
            "| measure | value | goal |", "|---|---:|---:|",
            f"| automatic links: precision ({ma.get('correct_links')} of {ma.get('links')}) | "
            f"{_f4(ma.get('precision'))} | >= 0.995 |",
            f"| automatic links: recall | {_f4(ma.get('recall'))} | >= 0.95 |",
            f"| matinee/evening confusions | {ma.get('matinee_evening_confusions')} | 0 |",
            f"| share sent to review | {_n(ma.get('review_share'))} | |",
            f"| µs per description, median / p99 | {_n(ma.get('us_median'))} / {_n(ma.get('us_p99'))} | |",
            f"| descriptions matched per CPU second | {_n(ma.get('per_cpu_s'))} | |",
            f"| identity learning, calendar facts per CPU second: crosswalk alone / with matching | "
            f"{_n(plain)} / {_n(both)} ({_n(both / plain if plain and both else None)}x) | |",
            *_identity_rows(r)]


def _identity_rows(r: dict[str, Any]) -> list[str]:
    """The ``identity`` part: calendar facts through one real worker, linked vs real rules."""
    ident = r.get("identity") or {}
    rows = []
    for mode, what in (("linked", "every description carries a shared id"),
                       ("real", "real rules: the matcher decides the rest")):
        m = ident.get(mode)
        if m:
            seen = f"{m['performances_seen']:,} performances shown, of {m['performances_truth']:,}"
            rows.append(f"| worker, calendar facts/s and per worker CPU-second ({what}; "
                        f"{m['descriptions']:,} descriptions, {seen}) | "
                        f"{_n(m['facts_per_s'])} / {_n(m['facts_per_cpu_s'])} | |")
    ratio = ident.get("real_over_linked_per_cpu_s")
    if ratio:
        rows.append(f"| worker, real rules / linked, per CPU-second | {_n(ratio)} | |")
    return rows


def _walls_table(r: dict[str, Any]) -> list[str]:
    walls = r.get("walls") or {}
    if not walls:
        return []
    consume = (r.get("ceilings") or {}).get("kafka_consume_eps")
    ours = (r.get("pipeline") or {}).get("streams_eps_1w")
    lines = ["", "What the Faust runtime costs (same ticket facts, 4 partitions, one process each; timed by "
                 "its own first and last record)", "",
             "| runtime | events/s | events per CPU-second | / raw consume ceiling | "
             "our worker as a share of it |",
             "|---|---:|---:|---:|---:|"]
    for name, w in walls.items():
        ceiling = f"{w['eps'] / consume:.3g}" if consume else "–"
        share = f"{ours / w['eps']:.3g}" if ours else "–"
        lines.append(f"| {_WALL_NAMES.get(name, name)} | {_n(w['eps'])} | {_n(w['eps_per_cpu_s'])} | "
                     f"{ceiling} | {share} |")
    lines.append(f"| raw consume ceiling (no decode, in the bench process) | {_n(consume)} | | 1 | |")
    lines.append(f"| our streams worker, 1 worker (everything) | {_n(ours)} | | "
                 f"{f'{ours / consume:.3g}' if ours and consume else '–'} | |")
    return lines


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
