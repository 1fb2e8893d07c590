"""Printing report tables: aligned text, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sinks.clickhouse.reports import ReportTable

__all__ = ["FORMATS", "render"]

FORMATS = ("table", "json", "csv")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.0f}"
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _text(tables: Sequence[ReportTable]) -> str:
    out: list[str] = []
    for t in tables:
        out.append(f"== {t.name} ==")
        cells = [[_cell(v) for v in row] for row in t.rows]
        widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(t.columns)]
        numeric = [all(isinstance(row[i], int | float | Decimal) or row[i] is None for row in t.rows)
                   and bool(t.rows) for i in range(len(t.columns))]

        def line(values: Sequence[str], widths: list[int] = widths,
                 numeric: list[bool] = numeric) -> str:
            return "  ".join(v.rjust(w) if n else v.ljust(w)
                             for v, w, n in zip(values, widths, numeric, strict=True)).rstrip()

        out.append(line(t.columns))
        out.append("  ".join("-" * w for w in widths))
        out.extend(line(r) for r in cells)
        if not t.rows:
            out.append("(no rows)")
        out.extend(f"note: {n}" for n in t.notes)
        out.append("")
    return "\n".join(out)


def _json(tables: Sequence[ReportTable]) -> str:
    doc = {t.name: {"rows": [{k: _json_value(v) for k, v in r.items()} for r in t.records()],
                    "notes": t.notes} for t in tables}
    return json.dumps(doc, indent=2, ensure_ascii=False)


def _csv(tables: Sequence[ReportTable]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for i, t in enumerate(tables):
        if i:
            buf.write("\n")
        buf.write(f"# {t.name}\n")
        w.writerow(t.columns)
        w.writerows([_json_value(v) if v is not None else "" for v in r] for r in t.rows)
        for n in t.notes:
            buf.write(f"# note: {n}\n")
    return buf.getvalue()


def render(tables: Sequence[ReportTable], fmt: str = "table") -> str:
    """The tables as ``table`` (aligned text), ``json`` (one object per table) or ``csv``.

    Raises:
        ValueError: unknown format.

    """
    if fmt == "table":
        return _text(tables)
    if fmt == "json":
        return _json(tables)
    if fmt == "csv":
        return _csv(tables)
    raise ValueError(f"format {fmt!r}: choose one of {', '.join(FORMATS)}")
