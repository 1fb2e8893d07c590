"""Who is asking, and what of ClickHouse they may see: the one query layer of the reports.

Sales and audience figures are owner-only: a venue sees its own performances (its venue
ids, and every id the venue crosswalk ``venue_links`` knows as the same venue), a
producer its own productions at every venue. Sector comparisons and an analyst's
audience figures cover the whole sector, aggregated and thresholded by the reports.

Every report query goes through :func:`run_query`, which refuses a query that does not
carry the scope marker (``__SCOPE__``) and replaces it by the caller's row filter before
the query is sent; the caller's venue ids and productions are bound server-side, never
spliced into SQL. So a report cannot forget its scope, and a performance id of another
tenant simply matches no row: the answer is empty, exactly as for an id that does not
exist.

Why here and not in ClickHouse: the chdb-core server of the local stack cannot create
users or row policies at run time (``docs/reports-access.md``), so the query layer is
where the local stack enforces ownership; the document lists the users and row policies a
real ClickHouse server would add underneath.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from bus.tenants import Tenant
from sinks.clickhouse.errors import SinkError

__all__ = [
    "MARK",
    "OPERATOR",
    "REPORTS",
    "ReportRefused",
    "ReportTable",
    "Scope",
    "run_query",
    "run_table",
    "scope_for",
]

Report = Literal["sales", "audience", "benchmark"]
REPORTS: tuple[str, ...] = ("sales", "audience", "benchmark")

#: The place in every report query where the caller's row filter goes.
MARK = "__SCOPE__"

# The venue ids a venue tenant owns: those it is registered for, the canonical venues they
# are in the crosswalk, and every id linked to one of those canonical venues.
_OWN_CANONICAL = (
    "SELECT arrayJoin({scope_venues:Array(String)}) "
    "UNION ALL SELECT canonical_id FROM venue_links FINAL "
    "WHERE has({scope_venues:Array(String)}, venue_id)")
_OWN_VENUE_IDS = (
    f"SELECT * FROM ({_OWN_CANONICAL}) "  # noqa: S608 - constants; values bound server-side
    "UNION ALL SELECT venue_id FROM venue_links FINAL "
    f"WHERE canonical_id IN ({_OWN_CANONICAL})")
_OWN_ROWS = (
    "performance_id IN (SELECT performance_id FROM performances FINAL "  # noqa: S608 - as above
    f"WHERE venue_id IN ({_OWN_VENUE_IDS}) "
    "OR has({scope_productions:Array(String)}, production_id))")

#: What each kind of tenant may run (the operator may run every report).
_ALLOWED: dict[str, tuple[str, ...]] = {
    "venue": REPORTS, "producer": REPORTS, "analyst": ("audience", "benchmark"),
    "app": (), "vendor": (),
}
_WHY_NOT = {
    "app": "apps read availability and last-minute offers only (the gateway)",
    "vendor": "a ticketing vendor account writes facts; it reads no reports",
    "analyst": "an analyst sees sector-aggregated figures only: `report benchmark` and "
               "`report audience`",
}


class ReportRefused(SinkError):
    """The caller may not run this report (no, unknown or revoked token, or its kind)."""


@dataclass(frozen=True)
class Scope:
    """Who a report is for and which rows it may read.

    Attributes:
        caller: ``operator`` or the tenant's name.
        kind: ``operator``, ``venue``, ``producer`` or ``analyst``.
        venues: venue ids the tenant is registered for (the crosswalk adds linked ids).
        productions: production ids the tenant is registered for.
        rows: ``own`` (the tenant's performances) or ``all`` (the operator's view, and
            sector-wide aggregates).

    """

    caller: str
    kind: Literal["operator", "venue", "producer", "analyst"]
    venues: tuple[str, ...] = ()
    productions: tuple[str, ...] = ()
    rows: Literal["own", "all"] = "all"

    @property
    def where(self) -> str:
        """The row filter that replaces :data:`MARK` (needs :meth:`params`)."""
        return _OWN_ROWS if self.rows == "own" else "1"

    def params(self) -> dict[str, Any]:
        if self.rows == "all":
            return {}
        return {"scope_venues": list(self.venues), "scope_productions": list(self.productions)}

    def across_sector(self) -> Scope:
        """The same caller, for a sector-wide aggregate (every caller gets the same groups)."""
        return replace(self, rows="all")

    def describe(self) -> str:
        """One line for a report's notes: whose figures these are."""
        if self.kind == "operator":
            return "scope: operator view (every venue, unscoped)"
        if self.rows == "all":
            return f"scope: sector-wide, for {self.kind} {self.caller}"
        own = [f"venues {', '.join(self.venues)} (and ids linked to them)"] if self.venues else []
        own += [f"productions {', '.join(self.productions)}"] if self.productions else []
        return f"scope: {self.kind} {self.caller}: {'; '.join(own) or 'nothing registered yet'}"


#: The unscoped view: every venue's rows (the operator, with ClickHouse's own credentials).
OPERATOR = Scope("operator", "operator")


def scope_for(tenant: Tenant | None, report: str) -> Scope:
    """The scope of ``tenant`` for ``report``.

    Raises:
        ReportRefused: no (or a revoked) tenant, or its kind may not run this report.

    """
    if tenant is None or tenant.revoked:
        raise ReportRefused("the API token is unknown or revoked: no report. Ask the bus's "
                            "operator for a token (`cultuurbus tenant add` / `tenant rotate`)")
    if report not in _ALLOWED.get(tenant.kind, ()):
        raise ReportRefused(f"tenant {tenant.name} ({tenant.kind}) may not run `report {report}`: "
                            f"{_WHY_NOT.get(tenant.kind, 'not allowed')}")
    if tenant.kind == "analyst":
        return Scope(tenant.name, "analyst", rows="all")
    kind: Literal["venue", "producer"] = "venue" if tenant.kind == "venue" else "producer"
    return Scope(tenant.name, kind, tuple(tenant.venues), tuple(tenant.productions), rows="own")


@dataclass(frozen=True)
class ReportTable:
    """One table of a report."""

    name: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    notes: list[str] = field(default_factory=list)

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r, strict=True)) for r in self.rows]


def run_query(client: Any, scope: Scope, sql: str, params: dict[str, Any]) -> Any:
    """Run one report query under ``scope``: :data:`MARK` becomes the caller's row filter.

    Raises:
        ValueError: ``sql`` carries no scope marker (every report query must).

    """
    if MARK not in sql:
        raise ValueError("a report query without the scope marker: every query that reads "
                         f"performances or facts must filter them with {MARK}")
    return client.query(sql.replace(MARK, scope.where), parameters={**params, **scope.params()})


def run_table(client: Any, scope: Scope, name: str, sql: str, params: dict[str, Any],
              notes: list[str] | tuple[str, ...] = ()) -> ReportTable:
    """:func:`run_query` as a :class:`ReportTable`."""
    result = run_query(client, scope, sql, params)
    return ReportTable(name, list(result.column_names), [tuple(r) for r in result.result_rows],
                       list(notes))
