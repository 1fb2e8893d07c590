"""Ready queries for the sector's questions: sales monitor and benchmarks (the audience
monitor is in :mod:`sinks.clickhouse.audience`).

Each report returns :class:`ReportTable` s (name, columns, rows, notes); ``render``
prints them. Every query runs through the query layer (:mod:`sinks.clickhouse.scope`)
under the caller's :class:`Scope`: sales are owner-only (a venue's or producer's own
performances; the operator sees all), comparisons are sector-wide for every caller.
Every query reads the replacing tables with ``FINAL`` and sales through the
``sales_movements`` view, so a fact stored twice is counted once and a source that
reports cumulative snapshots is counted by those only.

Definitions:
- sold: net tickets (sold minus cancelled and refunded); occupancy = sold / capacity.
- sales curve: share of the final net sold that was sold by D-42, D-28, D-14, D-7, D-1
  (at least that many days before the start) and D0 (before the start).
- benchmarks leave out cancelled performances; a group is shown only when at least
  ``min_venues`` distinct venues contribute (counted both by canonical venue, through the
  venue crosswalk ``venue_links``, and by name and city, the smaller count deciding), so
  no venue can be singled out, however many ids and names it is listed under. The rule
  holds for every caller, the operator included.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sinks.clickhouse.audience import audience_report
from sinks.clickhouse.scope import OPERATOR, ReportRefused, ReportTable, Scope, run_table

__all__ = [
    "CURVE_DAYS",
    "MIN_VENUES",
    "ReportTable",
    "audience_report",
    "benchmark_report",
    "sales_report",
]

MIN_VENUES = 5
CURVE_DAYS = (42, 28, 14, 7, 1, 0)


_PERF_FILTER = "({pid:String} = '' OR performance_id = {pid:String}) AND __SCOPE__"

_OCCUPANCY = f"""
SELECT p.performance_id AS performance_id, p.title AS title, p.venue_name AS venue,
       p.start AS start, p.capacity AS capacity, m.net_tickets AS sold,
       if(p.capacity > 0, round(100 * m.net_tickets / p.capacity, 1), NULL) AS occupancy_pct,
       round(m.net_revenue / 100, 2) AS revenue_eur
FROM (SELECT performance_id, title, venue_name, start, capacity FROM performances FINAL
      WHERE {_PERF_FILTER}) AS p
LEFT JOIN (SELECT performance_id, sum(tickets) AS net_tickets, sum(revenue_cents) AS net_revenue
           FROM sales_movements WHERE {_PERF_FILTER} GROUP BY performance_id) AS m
    USING performance_id
ORDER BY start, performance_id
LIMIT {{limit:UInt32}}
"""  # noqa: S608 - composed of constants; values are bound server-side

_TICKET_TYPES = f"""
SELECT m.performance_id AS performance_id, p.title AS title, m.ticket_type AS ticket_type,
       sum(m.tickets) AS tickets, round(sum(m.revenue_cents) / 100, 2) AS revenue_eur,
       if(tickets != 0, round(sum(m.revenue_cents) / tickets / 100, 2), NULL) AS avg_price_eur
FROM sales_movements AS m
LEFT JOIN (SELECT performance_id, title FROM performances FINAL) AS p USING performance_id
WHERE {_PERF_FILTER}
GROUP BY m.performance_id, p.title, m.ticket_type
ORDER BY performance_id, ticket_type
LIMIT {{limit:UInt32}}
"""  # noqa: S608 - composed of constants; values are bound server-side

_CURVE_POINTS = ",\n       ".join(
    f"round(100 * sumIf(m.tickets, m.event_time <= p.start - INTERVAL {d} DAY) / final_sold, 1)"
    f" AS `D-{d}`" if d else
    "round(100 * sumIf(m.tickets, m.event_time <= p.start) / final_sold, 1) AS `D0`"
    for d in CURVE_DAYS)

_CURVE = f"""
SELECT m.performance_id AS performance_id, p.title AS title, p.start AS start,
       sum(m.tickets) AS final_sold,
       {_CURVE_POINTS}
FROM sales_movements AS m
INNER JOIN (SELECT performance_id, title, start FROM performances FINAL) AS p USING performance_id
WHERE {_PERF_FILTER}
GROUP BY m.performance_id, p.title, p.start
HAVING final_sold > 0
ORDER BY start, performance_id
LIMIT {{limit:UInt32}}
"""  # noqa: S608 - composed of constants; values are bound server-side


def sales_report(client: Any, *, scope: Scope = OPERATOR, performance_id: str = "",
                 limit: int = 100) -> list[ReportTable]:
    """Sales monitor: occupancy and revenue, revenue per ticket type, the sales curve.

    Only the performances ``scope`` owns (all for the operator); another tenant's
    ``performance_id`` gives empty tables, as an unknown one does.

    Raises:
        ReportRefused: ``scope`` is sector-wide only (an analyst).

    """
    if scope.kind == "analyst":
        raise ReportRefused(f"tenant {scope.caller} (analyst) may not run `report sales`: "
                            "sales are owner-only")
    params = {"pid": performance_id, "limit": limit}
    return [
        run_table(client, scope, "occupancy", _OCCUPANCY, params,
                  ["sold = net tickets; occupancy = sold / capacity (capacity from the calendar)",
                   scope.describe()]),
        run_table(client, scope, "ticket_types", _TICKET_TYPES, params),
        run_table(client, scope, "sales_curve", _CURVE, params,
                  ["% of the final net sold that was sold at least N days before the start"]),
    ]


def _benchmark_sql(dim: str) -> str:
    group = {"genre": "p.genre", "region": "p.region"}[dim]
    return """
WITH per_perf AS (
    SELECT if(GROUP_EXPR = '', '(unknown)', toString(GROUP_EXPR)) AS grp,
           if(v.canonical_id = '', p.venue_id, v.canonical_id) AS canonical_venue,
           concat(lowerUTF8(trimBoth(p.venue_name)), '|', lowerUTF8(toString(p.city))) AS venue_key,
           p.capacity AS capacity, m.net_tickets AS tickets, m.net_revenue AS revenue_cents,
           m.discount_tickets AS discount
    FROM (SELECT * FROM performances FINAL WHERE status != 'CANCELLED' AND __SCOPE__) AS p
    LEFT JOIN (SELECT venue_id AS linked_id, canonical_id FROM venue_links FINAL) AS v
        ON v.linked_id = p.venue_id
    LEFT JOIN (SELECT performance_id, sum(tickets) AS net_tickets, sum(revenue_cents) AS net_revenue,
                      sumIf(tickets, ticket_type = 'DISCOUNT') AS discount_tickets
               FROM sales_movements GROUP BY performance_id) AS m USING performance_id)
SELECT grp AS GROUP_NAME, least(uniqExact(canonical_venue), uniqExact(venue_key)) AS venues,
       count() AS performances, venues >= {min_venues:UInt32} AS shown,
       if(shown, round(100 * sumIf(tickets, capacity > 0) / nullIf(sumIf(capacity, capacity > 0), 0),
                       1), NULL) AS occupancy_pct,
       if(shown, round(sum(revenue_cents) / nullIf(sum(tickets), 0) / 100, 2), NULL) AS avg_price_eur,
       if(shown, round(100 * sum(discount) / nullIf(sum(tickets), 0), 1), NULL) AS discount_share_pct
FROM per_perf
GROUP BY grp
ORDER BY grp
""".replace("GROUP_EXPR", group).replace("GROUP_NAME", dim)


def benchmark_report(client: Any, *, scope: Scope = OPERATOR,
                     by: Sequence[str] = ("genre", "region"),
                     min_venues: int = MIN_VENUES) -> list[ReportTable]:
    """Benchmarks by genre and by region: occupancy, average price, discount share.

    Sector-wide for every caller (``scope`` names who asked): groups with fewer than
    ``min_venues`` venues are suppressed in the database (their figures never leave it)
    and named in a note.

    Raises:
        ValueError: ``by`` names something other than genre or region, or
            ``min_venues`` is below :data:`MIN_VENUES`.

    """
    if min_venues < MIN_VENUES:
        raise ValueError(f"min_venues must be at least {MIN_VENUES}, so no venue can be singled out")
    out = []
    for dim in by:
        if dim not in ("genre", "region"):
            raise ValueError(f"benchmark by {dim!r}: choose genre or region")
        raw = run_table(client, scope.across_sector(), f"by_{dim}", _benchmark_sql(dim),
                        {"min_venues": min_venues})
        shown_at = raw.columns.index("shown")
        keep = [i for i, c in enumerate(raw.columns) if c != "shown"]
        rows = [tuple(r[i] for i in keep) for r in raw.rows if r[shown_at]]
        hidden = [str(r[0]) for r in raw.rows if not r[shown_at]]
        notes = [f"occupancy = net sold / capacity; avg price = net revenue / net tickets; "
                 f"groups need at least {min_venues} venues"]
        if hidden:
            notes.append(f"suppressed (fewer than {min_venues} venues): {', '.join(hidden)}")
        out.append(ReportTable(raw.name, [raw.columns[i] for i in keep], rows, notes))
    return out
