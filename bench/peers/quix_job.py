"""Peer: the streams worker's whole job on ticket facts, written the idiomatic Quix Streams way.

Like for like with ``cultuurbus streams worker`` (issue #14): the same two hops and the same
rules, in Quix's own style.

1. Re-key through the crosswalk. Calendar and ticket facts (both keyed by the source's
   performance key, co-partitioned) are concatenated into one ``StreamingDataFrame``; a
   stateful ``apply`` keeps each key's link to its canonical performance id (learned from
   the calendar fact, as ``streams.identity`` does) and parks ticket facts whose key is
   not linked yet, releasing them (``expand``) when the link arrives. ``group_by`` then
   repartitions every fact by its canonical id through Quix's repartition topic.
2. The domains. A stateful ``apply`` per canonical performance drops a fact seen before
   (by fact id, in Quix's RocksDB state) and applies it to availability, attendance and
   hourly/daily sales windows with the worker's own state functions
   (``streams.availability``, ``streams.attendance``, ``streams.sales``: pure Python, no
   dependencies), then three branches publish the Availability record, the Attendance
   record and the changed SalesWindow records through Quix's registry-aware
   ``AvroSerializer``.

What the worker does beyond this is left out: last-minute offers (a timer), the match
and venue agents for calendar facts without a shared identifier, re-routing when a person
undoes a link, reconciliation records. Times are turned into int milliseconds in the
first step (the worker reads them so; Quix's repartition topic and state are JSON). Runs in its own virtualenv
(``bench/.venv-quix``) with the repository on ``PYTHONPATH``.

Run: ``python -m bench.peers.quix_job --bootstrap ... --registry ... --calendar T --tickets T
--output T --attendance T --sales T --group G --state-dir D`` (SIGTERM ends it).
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from quixstreams import State
from quixstreams.models.serializers.avro import AvroDeserializer, AvroSerializer
from quixstreams.models.serializers.schema_registry import SchemaRegistrySerializationConfig

from bench.peers.quix_availability import application
from streams.attendance import state as at
from streams.availability import declared as decl
from streams.availability import state as av
from streams.sales import state as sa

__all__ = ["main"]

AVRO = Path(__file__).resolve().parents[2] / "schemas" / "avro"


def _schema(name: str) -> Any:
    return json.loads((AVRO / name).read_text())


def _ms(value: Any) -> Any:
    """Times as int milliseconds, in nested records too (Quix's Avro reader gives datetimes;
    its repartition topic and state are JSON)."""
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {k: _ms(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ms(v) for v in value]
    return value


def canonical_of(perf: dict[str, Any]) -> str:
    """The canonical id a calendar fact links its key to: the bench's calendar is DIP's, whose
    key is the sector id itself (the worker's crosswalk gives the same answer)."""
    return str(perf["performance_key"])


def main(argv: list[str] | None = None) -> None:
    args, app, registry = application(__doc__ or "", argv, outputs=("attendance", "sales"))
    facts = AvroDeserializer(schema_registry_client_config=registry)

    def writer(schema: str) -> AvroSerializer:
        return AvroSerializer(_schema(schema), schema_registry_client_config=registry,
                              schema_registry_serialization_config=SchemaRegistrySerializationConfig(
                                  auto_register_schemas=True))

    calendar = app.topic(args.calendar, value_deserializer=facts)
    tickets = app.topic(args.tickets, value_deserializer=facts)
    out_availability = app.topic(args.output, value_serializer=writer("availability.avsc"))
    out_attendance = app.topic(args.attendance, value_serializer=writer("attendance.avsc"))
    out_sales = app.topic(args.sales, value_serializer=writer("sales_window.avsc"))
    threshold = args.threshold

    def crosswalk(fact: dict[str, Any], state: State) -> list[dict[str, Any]]:
        """Hop 1: the canonical id of a fact's key; ticket facts wait for their link."""
        fact = _ms(fact)
        if "event_type" not in fact:  # a calendar fact: learn the link, release what waited
            pid = canonical_of(fact)
            state.set("pid", pid)
            waiting = state.get("parked") or []
            if waiting:
                state.delete("parked")
            return [{**f, "_pid": pid} for f in (*waiting, fact)]
        pid = state.get("pid")
        if pid is None:
            state.set("parked", [*(state.get("parked") or []), fact])
            return []
        return [{**fact, "_pid": pid}]

    def domains(fact: dict[str, Any], state: State) -> dict[str, Any] | None:
        """Hop 2: a first delivery applied to availability, attendance and sales."""
        marker = f"f:{fact['fact_id']}"
        if state.exists(marker):
            return None
        state.set(marker, 1)
        pid = fact["_pid"]
        kind = "ticket" if "event_type" in fact else "performance"
        now = int(time.time() * 1000)
        out: dict[str, Any] = {"availability": None, "attendance": None, "sales": []}
        st = state.get("av") or av.new_state()
        changed = (av.apply_ticket(st, fact) if kind == "ticket" else av.apply_calendar(st, fact))
        changed = decl.apply_declared(st, kind, fact) or changed
        if changed:
            state.set("av", st)
            out["availability"] = decl.availability(pid, st, limited_threshold=threshold, now_ms=now)
        ast = state.get("at") or at.new_state()
        if at.apply(ast, kind, fact):
            state.set("at", ast)
            if kind == "ticket" or ast["scanned"]:
                out["attendance"] = at.attendance_record(pid, ast, now)
        if kind == "performance":
            state.set("start", fact["start"])
            return out
        start = state.get("start")
        for tt, channel, n, revenue in sa.ticket_deltas(fact):
            for gran, wstart in sa.windows_of(fact["event_time"]):
                wk = sa.window_key(pid, gran, wstart, tt, channel)
                w = state.get("w:" + wk) or {"t": 0, "r": 0}
                w["t"] += n
                w["r"] += revenue
                state.set("w:" + wk, w)
                out["sales"].append({
                    "_key": wk, "performance_id": pid, "granularity": gran, "window_start": wstart,
                    "ticket_type": tt, "channel": channel, "tickets": w["t"], "revenue_cents": w["r"],
                    "days_before_show": None if start is None else (start - wstart) // sa.DAY_MS,
                    "updated_at": now})
        return out

    sdf = app.dataframe(calendar).concat(app.dataframe(tickets))
    sdf = sdf.apply(crosswalk, stateful=True, expand=True)
    sdf = sdf.group_by(lambda fact: fact["_pid"], name="canonical")
    sdf = sdf.apply(domains, stateful=True).filter(lambda out: out is not None)
    availability = sdf.filter(lambda out: out["availability"] is not None)
    availability.apply(lambda out: out["availability"]).to_topic(out_availability)
    attendance = sdf.filter(lambda out: out["attendance"] is not None)
    attendance.apply(lambda out: out["attendance"]).to_topic(out_attendance)
    sales = sdf.apply(lambda out: out["sales"], expand=True)
    sales.to_topic(out_sales, key=lambda window: window["_key"])
    app.run()


if __name__ == "__main__":
    main()
