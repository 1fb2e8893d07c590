"""What the bus really offers, read from where each thing is defined: ClickHouse tables and
views from the sink's DDL migrations, HTTP endpoints from the gateway's app, report commands
from ``cultuurbus report``. (Topics come from :data:`bus.topics.CATALOG` directly.)

The data-product catalog (:mod:`ops.catalog.products`) names these; reading them here, not
copying them, is what lets a test fail when a table, route or report is added without a
product, and lets a product show a table's real columns.

Perf notes: the DDL is parsed from the migration files (no ClickHouse is needed); the
gateway's routes come from building its app over an empty view (FastAPI is imported, no
server starts, nothing connects).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Literal

__all__ = ["NOT_PRODUCTS", "Route", "Table", "ddl_tables", "gateway_routes", "parse_ddl",
           "report_commands"]

#: Gateway routes that carry no data, each with why.
NOT_PRODUCTS: dict[str, str] = {"/": "redirects to /board"}

_CREATE = re.compile(r"^\s*CREATE\s+(MATERIALIZED\s+VIEW|VIEW|TABLE)\s+(?:IF\s+NOT\s+EXISTS\s+)?"
                     r"([A-Za-z_][A-Za-z0-9_]*)\s*(.*)$", re.IGNORECASE | re.DOTALL)
_COLUMN_END = re.compile(r"\s+(?:DEFAULT|MATERIALIZED|ALIAS|EPHEMERAL|CODEC|TTL|COMMENT)\b",
                         re.IGNORECASE)
_TTL = re.compile(r"\bTTL\b\s+(.+?)(?=\s+SETTINGS\b|$)", re.IGNORECASE | re.DOTALL)
_AS = re.compile(r"\s+AS\s+", re.IGNORECASE)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Table:
    """A ClickHouse table or view as its DDL creates it.

    Attributes:
        name: as in ClickHouse (unqualified).
        kind: ``table``, ``view``, or ``materialized-view`` (one with ``TO``: it holds no
            data of its own, it writes into ``target``).
        columns: ``(name, type)`` pairs; a view's types are its query's (``""`` here).
        ttl: the table's TTL expression, if it has one.
        target: the table a materialized view writes into.

    """

    name: str
    kind: Literal["table", "view", "materialized-view"]
    columns: tuple[tuple[str, str], ...]
    ttl: str | None = None
    target: str | None = None


@dataclass(frozen=True)
class Route:
    """One HTTP route of the gateway: path template (as in its OpenAPI document) and summary."""

    path: str
    methods: tuple[str, ...]
    summary: str


def _split_top(text: str) -> list[str]:
    """``text`` split at commas outside parentheses and quotes."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _balanced(text: str, open_at: int) -> int:
    """Index of the parenthesis closing the one at ``open_at``."""
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    raise ValueError("unbalanced parentheses")


def _columns(body: str) -> tuple[tuple[str, str], ...]:
    out = []
    for item in _split_top(body):
        head = item.split(None, 1)
        if head[0].upper() in {"INDEX", "PROJECTION", "CONSTRAINT"} or len(head) < 2:
            continue
        out.append((head[0].strip("`"), _COLUMN_END.split(head[1], maxsplit=1)[0].strip()))
    return tuple(out)


def _top_level_keyword(text: str, word: str, start: int = 0) -> int:
    """Index of ``word`` (a whole word, any case) outside parentheses, or -1."""
    depth = 0
    pattern = re.compile(rf"\b{word}\b", re.IGNORECASE)
    for i in range(start, len(text)):
        ch = text[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and pattern.match(text, i) and (i == 0 or not text[i - 1].isalnum()):
            return i
    return -1


def _select_columns(query: str) -> tuple[tuple[str, str], ...]:
    """The output column names of a ``SELECT a, f(b) AS c, ... FROM`` (first branch)."""
    select = _top_level_keyword(query, "SELECT")
    end = _top_level_keyword(query, "FROM", select + 6)
    out = []
    for item in _split_top(query[select + 6:end]):
        pieces = _AS.split(item)
        name = pieces[-1].strip() if len(pieces) > 1 else item.split(".")[-1].strip()
        if _IDENT.match(name):
            out.append((name, ""))
    return tuple(out)


def parse_ddl(statements: list[str]) -> dict[str, Table]:
    """The tables, views and materialized views the ``CREATE`` statements make, by name.

    ``CREATE TABLE x AS y`` copies ``y``'s columns; statements other than ``CREATE`` are
    ignored.
    """
    found: dict[str, Table] = {}
    for stmt in statements:
        m = _CREATE.match(stmt)
        if m is None:
            continue
        what, name, rest = m.group(1).upper(), m.group(2), m.group(3)
        if what == "TABLE":
            if rest.startswith("("):
                close = _balanced(rest, 0)
                cols, tail = _columns(rest[1:close]), rest[close + 1:]
            else:  # CREATE TABLE x AS y ENGINE = ...
                source = _AS.split(" " + rest, maxsplit=1)[1].split(None, 1)[0]
                cols, tail = found[source].columns, rest
            ttl = _TTL.search(tail)
            found[name] = Table(name, "table", cols, ttl.group(1).strip() if ttl else None)
        elif what.startswith("MATERIALIZED"):
            target = re.match(r"TO\s+([A-Za-z0-9_]+)", rest, re.IGNORECASE)
            found[name] = Table(name, "materialized-view", (),
                                target=target.group(1) if target else None)
        else:
            found[name] = Table(name, "view", _select_columns(rest))
    return found


@cache
def ddl_tables() -> dict[str, Table]:
    """Every table and view the sink's migrations (``sinks/clickhouse/migrations``) create."""
    from sinks.clickhouse.migrate import load_migrations

    statements = [s for m in load_migrations() for s in m.statements()]
    return parse_ddl(statements)


@cache
def gateway_routes() -> dict[str, Route]:
    """Every route of the gateway's app, by path: those of its OpenAPI document, and the
    undocumented pages (the board)."""
    from fastapi.routing import APIRoute
    from prometheus_client import CollectorRegistry

    from sinks.gateway.app import GatewayParts, create_app
    from sinks.gateway.metrics import GatewayMetrics
    from sinks.gateway.sse import Broadcaster
    from sinks.gateway.view import View

    metrics = GatewayMetrics(CollectorRegistry())
    app = create_app(GatewayParts(View(1), Broadcaster(metrics), metrics))
    routes: dict[str, Route] = {}
    for path, ops in app.openapi()["paths"].items():
        summary = next((op.get("summary", "") for op in ops.values()), "")
        routes[path] = Route(path, tuple(sorted(m.upper() for m in ops)), summary)
    for r in app.routes:
        if isinstance(r, APIRoute) and not r.include_in_schema:
            routes[r.path] = Route(r.path, tuple(sorted(r.methods or ())), r.summary or r.name)
    return routes


@cache
def report_commands() -> dict[str, str]:
    """``cultuurbus report`` subcommands: ``"report <name>"`` -> its help line."""
    from sinks.clickhouse.cli import report

    return {f"report {name}": (cmd.get_short_help_str(100)) for name, cmd in report.commands.items()}
