"""The "Trust layer" part of the results (issue #15, ``bench/security.py``): what SASL/SCRAM
and the ACLs cost on produce and on the streams worker (with / without, same broker, same
run), a new client's login time, and how soon a revoked tenant is refused. Issue #15 sets
no target for these, so they feed no goal."""

from __future__ import annotations

from typing import Any

__all__ = ["fold_security", "security_table"]


def fold_security(r: dict[str, Any], raw: dict[str, Any] | None) -> None:
    """Put the security part's numbers (without the per-round runs) under ``r["security"]``."""
    if not raw or "error" in raw:
        return
    r["security"] = {
        "produce": {k: v for k, v in raw["produce"].items() if k != "runs"},
        "connect_ms": {k: v for k, v in raw["connect_ms"].items() if k != "samples"},
        "streams": {k: v for k, v in raw["streams"].items() if k != "runs"},
        "revocation": {k: v for k, v in raw["revocation"].items() if k != "runs"},
    }


def _n(x: Any) -> str:
    if x is None:
        return "–"
    if isinstance(x, float) and x < 10:
        return f"{x:.3g}"
    return f"{x:,.0f}"


def _rows(what: str, m: dict[str, Any], per: str, broker: bool, sides: tuple[str, str] = ("with", "without"),
          ratio: str = "ratio_") -> list[str]:
    w, wo = m.get(sides[0]) or {}, m.get(sides[1]) or {}
    rows = [f"| {what}, events/s | {_n(w.get('eps'))} | {_n(wo.get('eps'))} | {_n(m.get(ratio + 'eps'))} |",
            f"| {what}, events per {per} CPU-second | {_n(w.get('eps_per_cpu_s'))} | "
            f"{_n(wo.get('eps_per_cpu_s'))} | {_n(m.get(ratio + 'eps_per_cpu_s'))} |"]
    if broker:
        a, b = w.get("broker_cpu_seconds"), wo.get("broker_cpu_seconds")
        rows.append(f"| {what}, broker CPU-seconds | {_n(a)} | {_n(b)} | {_n(a / b if a and b else None)} |")
    return rows


def security_table(r: dict[str, Any]) -> list[str]:
    """Markdown lines of the trust layer (none when the part has not run)."""
    sec = r.get("security") or {}
    if not sec:
        return []
    pr, st, co, rv = (sec.get(k) or {} for k in ("produce", "streams", "connect_ms", "revocation"))
    other, fastest = rv.get("other_tenant") or {}, co.get("fastest") or {}
    lines = ["", f"Trust layer (issue #15, `bench/security.py`): one broker, its SASL/SCRAM-SHA-512 listener "
                 "with the ACLs (with) and a PLAINTEXT listener whose anonymous clients are super users "
                 f"(without); medians of {pr.get('rounds')} produce rounds of {_n(pr.get('records'))} ticket "
                 f"facts (a vendor tenant to its ingest topic) and {st.get('rounds')} streams worker "
                 f"round(s) of {_n(st.get('events'))} ticket events, taking turns at going first", "",
             "| measure | with SASL + ACLs | without | with / without |", "|---|---:|---:|---:|",
             *_rows("produce (the project's producer)", pr, "producer", True),
             *_rows("streams worker", st, "worker", True),
             f"| new client, first metadata answer (ms; median) | {_n(co.get('with'))} | "
             f"{_n(co.get('without'))} | {_n(co.get('ratio'))} ({_n(co.get('scram_extra_ms'))} ms more) |",
             f"| new client, first metadata answer (ms; fastest) | {_n(fastest.get('with'))} | "
             f"{_n(fastest.get('without'))} | |", ""]
    produce = ", ".join(f"{x:.2f}" for x in rv.get("produce_refused_s") or [])
    login = ", ".join(f"{x:.2f}" for x in rv.get("login_refused_s") or [])
    lines += [f"Revocation (`revoke_tenant` while the tenant produces every 10 ms), from the call's start: "
              f"first refused produce (TOPIC_AUTHORIZATION_FAILED) {produce} s "
              f"(max {_n(rv.get('max_produce_refused_s'))} s); first refused new login (authentication "
              f"failure) {login} s (max {_n(rv.get('max_login_refused_s'))} s). "
              f"A second tenant producing all along: {_n(other.get('acknowledged'))} records acknowledged, "
              f"{other.get('lost')} lost, {other.get('errors')} errors."]
    return lines + _tenant_table(st)


def _tenant_table(st: dict[str, Any]) -> list[str]:
    """The streams worker on a vendor tenant's ticket facts vs the same facts on the shared
    topic (none when the run had no tenant side)."""
    if not st.get("tenant"):
        return []
    copies = ", ".join(f"{c:,}" for c in st.get("tenant_accepted_copies") or []) or "–"
    return ["", "A vendor tenant's facts (`bench/security.py`, side \"tenant\"): the same ticket facts "
                "sent by a vendor tenant registered for every venue of the dataset, to its ingest topic "
                "with its own login (forwarded with its tenant, ownership judged against the DIP calendar "
                "facts, one accepted copy written per fact), vs \"with\" (shared topic); the worker over "
                f"SASL both times. Accepted copies on participation.facts per run: {copies} of "
                f"{_n(st.get('events'))} ticket facts"
                f"{'' if st.get('tenant_all_accepted') else ' (NOT every fact accepted)'}", "",
            "| measure | tenant | with SASL + ACLs | tenant / with |", "|---|---:|---:|---:|",
            *_rows("streams worker", st, "worker", True, ("tenant", "with"), "ratio_tenant_with_")]
