"""The Markdown report of a results document (``bench/report.py`` folds the parts into it):
the table of rates against their ceilings and peers, the per-CPU-second table, the goals,
the connector publish rates, what the Faust runtime costs, matching and identity learning,
the trust layer (``bench/trust_report.py``), latency, the whole pipeline by size, the
profiles' hot spots and the parts that failed."""

from __future__ import annotations

from typing import Any

from bench.trust_report import security_table

__all__ = ["KIND_NAMES", "markdown"]


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
             f"| ClickHouse sink, 2 processes in one group (rows/s) | {_n(p.get('sink_rps_2p'))} | the same "
             f"raw insert | {_n(ra.get('sink_2p_vs_insert_ceiling'))} |",
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
    lines += _latency_cpu_table(r)
    lines += _latency_hops_table(r)
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


def _latency_cpu_table(r: dict[str, Any]) -> list[str]:
    """Where the cores went during each load of the latency part (when it was recorded)."""
    lat = (r.get("details") or {}).get("latency") or {}
    phases = sorted((int(k), v) for k, v in lat.items()
                    if k.isdigit() and isinstance(v, dict) and v.get("cpu_s"))
    if not phases:
        return []
    names: list[str] = []
    for _, phase in phases:
        names += [n for n in phase["cpu_s"] if n not in names]
    out = ["", "CPU-seconds each process used while a load was sent and drained, and the machine's "
           "busy cores over the load", "",
           "| offered events/s | " + " | ".join(names) + " | busy cores |",
           "|---:|" + "---:|" * (len(names) + 1)]
    for rate, phase in phases:
        cells = [_n(phase["cpu_s"].get(n)) for n in names]
        out.append(f"| {rate:,} | " + " | ".join(cells) + f" | {_n(phase.get('machine_busy_cores'))} |")
    return out


_HOPS = ("to_rekeyed", "to_availability", "to_subscriber")


def _latency_hops_table(r: dict[str, Any]) -> list[str]:
    """Where a fact's time went at each load of the latency part (when it was recorded):
    each part's p50 / p99, and its median over the slowest 1% of the records in all."""
    lat = (r.get("details") or {}).get("latency") or {}
    phases = sorted((int(k), v["hops"]) for k, v in lat.items()
                    if k.isdigit() and isinstance(v, dict) and (v.get("hops") or {}).get("joined"))
    if not phases:
        return []
    out = ["", "Where a fact's time went, split where the worker's producer took the re-keyed fact and "
           "then the availability record (their Kafka timestamps), ms: p50 / p99, and the median in "
           "the slowest 1%", "",
           "| offered events/s | fact -> re-keyed fact | -> availability record | -> subscriber | "
           "records joined |", "|---:|---|---|---|---:|"]
    for rate, hops in phases:
        cells = [f"{_n(hops[h].get('p50'))} / {_n(hops[h].get('p99'))}, {_n(hops.get('tail_' + h))}"
                 for h in _HOPS]
        out.append(f"| {rate:,} | " + " | ".join(cells) + f" | {hops['joined']:,} of {hops['records']:,} |")
    return out
