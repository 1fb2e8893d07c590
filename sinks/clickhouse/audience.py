"""The audience monitor: reach by postcode area, first-time versus returning, frequency.

Buyers are pseudonyms (the connector's HMAC), so a figure about a handful of buyers in
one postcode area is still about people: no group of fewer than ``min_buyers`` distinct
buyers is shown (``report.min_buyers``, default 10, never below
:data:`bus.settings.REPORT_MIN_BUYERS_FLOOR`). Such a group is named as suppressed,
without figures. A total (a share column, or another table's sum) would give a lone
suppressed group away by difference, so the suppressed groups of a table must together
hold no buyer or at least ``min_buyers``: until they do, the smallest shown group is
suppressed too.

Every query runs through the query layer (:mod:`sinks.clickhouse.scope`): a venue or
producer sees the buyers of its own performances only (and "returning" means returning
to its own performances), an analyst and the operator the sector's.

Definitions:
- reach: distinct buyers (pseudonyms) per postcode area, top areas first.
- returning visit: the buyer bought for an earlier-starting performance (in scope).
- frequency: distinct performances (in scope) a buyer bought tickets for.
"""

from __future__ import annotations

from typing import Any

from bus.settings import REPORT_MIN_BUYERS_FLOOR, ReportSettings
from sinks.clickhouse.scope import OPERATOR, ReportTable, Scope, run_table

__all__ = ["DEFAULT_MIN_BUYERS", "audience_report", "threshold"]

DEFAULT_MIN_BUYERS = ReportSettings().min_buyers
_NAMED = 20  # suppressed groups named in a note; the rest are counted

_BUYERS = ("SELECT buyer_id_hash, performance_id, quantity, postcode_area, country "
           "FROM ticket_facts FINAL WHERE event_type = 'SOLD' AND buyer_id_hash != '' "
           "AND ({pid:String} = '' OR performance_id = {pid:String}) AND __SCOPE__")

_REACH = f"""
WITH sold AS ({_BUYERS}),
     (SELECT uniqExact(buyer_id_hash) FROM sold) AS all_buyers
SELECT country, postcode_area, uniqExact(buyer_id_hash) AS buyers, sum(quantity) AS tickets,
       round(100 * buyers / all_buyers, 1) AS buyers_share_pct
FROM sold
WHERE postcode_area != ''
GROUP BY country, postcode_area
ORDER BY buyers DESC, tickets DESC, country, postcode_area
"""  # noqa: S608 - composed of constants; values are bound server-side

_RETURNING = f"""
WITH visits AS (
         SELECT v.buyer_id_hash AS buyer, v.performance_id AS performance_id, p.start AS start
         FROM (SELECT DISTINCT buyer_id_hash, performance_id FROM ({_BUYERS})) AS v
         INNER JOIN (SELECT performance_id, start FROM performances FINAL) AS p USING performance_id),
     firsts AS (SELECT buyer, min(start) AS first_start FROM visits GROUP BY buyer)
SELECT if(v.start > f.first_start, 'returning', 'first-time') AS visit, count() AS visits,
       uniqExact(v.buyer) AS buyers,
       round(100 * visits / (SELECT count() FROM visits), 1) AS visits_share_pct
FROM visits AS v INNER JOIN firsts AS f USING buyer
GROUP BY visit
ORDER BY visit
"""  # noqa: S608 - composed of constants; values are bound server-side

_FREQUENCY = f"""
WITH per_buyer AS (SELECT buyer_id_hash, uniqExact(performance_id) AS n FROM ({_BUYERS})
                   GROUP BY buyer_id_hash)
SELECT if(n >= 5, '5+', toString(n)) AS performances, count() AS buyers,
       round(100 * buyers / (SELECT count() FROM per_buyer), 1) AS buyers_share_pct
FROM per_buyer
GROUP BY performances
ORDER BY performances
"""  # noqa: S608 - composed of constants; values are bound server-side


def threshold(table: ReportTable, min_buyers: int, key: int | tuple[int, ...] = 0,
              top: int | None = None) -> ReportTable:
    """``table`` without its groups of fewer than ``min_buyers`` buyers (column ``buyers``).

    The suppressed groups are named in a note (by the columns ``key``), with no figures;
    while they hold between 1 and ``min_buyers - 1`` buyers together, the smallest shown
    group is suppressed as well. ``top`` keeps the first shown rows.
    """
    if not table.rows:  # nothing to show or hide (an empty answer may come without columns)
        return table
    at = table.columns.index("buyers")
    keys = (key,) if isinstance(key, int) else key
    shown = list(table.rows)
    hidden = [r for r in shown if r[at] < min_buyers]
    shown = [r for r in shown if r[at] >= min_buyers]
    while shown and 0 < sum(r[at] for r in hidden) < min_buyers:
        smallest = min(reversed(shown), key=lambda r: r[at])
        shown.remove(smallest)
        hidden.append(smallest)
    notes = list(table.notes)
    notes.append(f"groups of fewer than {min_buyers} buyers are suppressed")
    if hidden:
        names = sorted(" ".join(str(r[k]) for k in keys) for r in hidden)
        more = f" and {len(names) - _NAMED} more" if len(names) > _NAMED else ""
        notes.append(f"suppressed (fewer than {min_buyers} buyers, alone or together): "
                     f"{', '.join(names[:_NAMED])}{more}")
    return ReportTable(table.name, table.columns, shown[:top] if top else shown, notes)


def audience_report(client: Any, *, scope: Scope = OPERATOR, top: int = 10,
                    performance_id: str = "",
                    min_buyers: int = DEFAULT_MIN_BUYERS) -> list[ReportTable]:
    """Audience monitor: reach by postcode area, first-time vs returning, visit frequency.

    Only the buyers of ``scope`` 's performances (every performance for the operator and
    analysts); another tenant's ``performance_id`` gives empty tables.

    Raises:
        ValueError: ``min_buyers`` is below :data:`bus.settings.REPORT_MIN_BUYERS_FLOOR`.

    """
    if min_buyers < REPORT_MIN_BUYERS_FLOOR:
        raise ValueError(f"min_buyers must be at least {REPORT_MIN_BUYERS_FLOOR}, so no small "
                         "group of buyers can be singled out")
    params = {"pid": performance_id}
    reach = run_table(client, scope, "reach", _REACH, params,
                      ["distinct buyers (pseudonyms) per postcode area; top areas first",
                       scope.describe()])
    returning = run_table(client, scope, "first_time_vs_returning", _RETURNING, params,
                          ["a visit is returning when the buyer bought for an earlier-starting "
                           "performance"])
    frequency = run_table(client, scope, "visit_frequency", _FREQUENCY, params,
                          ["distinct performances a buyer bought tickets for"])
    return [threshold(reach, min_buyers, key=(1, 0), top=top),
            threshold(returning, min_buyers),
            threshold(frequency, min_buyers)]
