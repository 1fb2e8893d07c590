"""Who sent a fact, and whether that tenant may have it counted (issue #15 item 3).

A vendor tenant writes only to its own ingest topics (``bus.tenants.ingest_topic``; the
broker's prefixed ACLs enforce it), so the topic a fact arrives on names its sender. The
identity agents take the tenant from that topic name and nothing else: they forward the
fact with :data:`TENANT_HEADER` set from the topic, and never copy a producer's headers
(a ``cultuurbus.tenant`` header a producer sent on a shared topic or on another tenant's
topic is ignored, and so cannot make a fact look like a tenant's or change its tenant).
Every later hop (``participation.facts``, parking on ``participation.unmatched`` and its
release, re-routes, ``streams.match``) is written by the worker only and carries the
header on.

:class:`Gate` judges a tenant's fact against the tenant directory (``access.tenants``,
kept in memory by the worker's compacted reader: :func:`follow_tenants`) and what the
worker knows of the performance: a tenant must be in the directory, not revoked, and
registered for a venue or a production of it. A calendar fact names its venue and
production itself; a ticket fact or snapshot is judged by its canonical performance
(the venues and productions the calendar facts counted on it named: ``streams.facts.
ownership``, plus the production a DIP performance id names). Judging is a dict lookup
or two; only facts from ingest topics are judged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from bus.codec import TENANT_HEADER
from bus.compacted import CompactedReader
from bus.directory import directory_handler
from bus.tenants import TenantDirectory, tenant_of_topic
from bus.topics import TENANTS, topic_name

if TYPE_CHECKING:
    from streams.context import Out

__all__ = ["REFUSED_MOVE", "SECTOR_CALENDARS", "TENANT_HEADER", "Gate", "NotOwned", "claims_of", "fact_out",
           "follow_tenants", "production_of_pid"]

#: The calendars whose description of a performance decides its venue and production for
#: ownership (``source_system`` of calendar facts from the shared topics): the sector's own
#: registries, DIP and UiTdatabank. A venue page (schema.org, iCal) or a tenant's own
#: performance fact is counted like any other, but does not make anybody an owner.
SECTOR_CALENDARS: frozenset[str] = frozenset({"dip", "uitdatabank"})

#: ``MOVE_HEADER`` value of the record that took a refused tenant's fact back out of the
#: ClickHouse sink's tables while the sink stored every forwarded fact. No longer written
#: (the sink stores a tenant's fact only from its accepted copy: ``bus.codec.ACCEPTED_MOVE``);
#: the facts agent still skips such records left on the topic.
REFUSED_MOVE = "retract/refused"


class NotOwned(Exception):  # noqa: N818 - the operator reads its message, not its name
    """A tenant's fact the tenant may not have counted; ``reason`` is the metric label
    (``unknown_tenant``, ``revoked``, ``not_registered``)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def fact_out(topic: str, key: str, raw: bytes, kind: str | None, tenant: str | None = None,
             move: str | None = None) -> Out:
    """A fact to publish, with the tenant it came from and its move when it has them (the
    plain 4-tuple when it has neither: the common path builds what it always did)."""
    if tenant is None:
        return (topic, key, raw, kind) if move is None else (topic, key, raw, kind, move)
    return (topic, key, raw, kind, move, tenant)


def follow_tenants(reader: CompactedReader, topic_prefix: str, directory: TenantDirectory) -> None:
    """Make ``reader`` (the worker's crosswalk reader, not started yet) also read the tenant
    directory into ``directory``: the worker is ready only once it read it to its end; a
    record the directory refuses is dead-lettered by the reader, which goes on."""
    reader.handlers[topic_name(TENANTS, topic_prefix)] = directory_handler(directory)


def production_of_pid(pid: str) -> str | None:
    """The DIP production a canonical performance id names (``dip|<PRODUCTION>|<NNNNN>``)."""
    if pid.startswith("dip|"):
        parts = pid.split("|")
        if len(parts) == 3 and parts[1]:
            return parts[1]
    return None


def claims_of(rec: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The venue ids and production ids a calendar fact (as fastavro reads it) names."""
    venue = rec.get("venue") or {}
    venues = [str(venue["id"])] if venue.get("id") else []
    productions = []
    if rec.get("production_id"):
        productions.append(str(rec["production_id"]).strip())
    for ident in rec.get("identifiers") or ():
        if ident.get("namespace") == "dip" and "|" in str(ident.get("value") or ""):
            productions.append(str(ident["value"]).rsplit("|", 1)[0].strip())
    return venues, productions


def _named(venues: Iterable[str], productions: Iterable[str]) -> str:
    parts = []
    vs, ps = sorted(set(venues)), sorted(set(productions))
    if vs:
        parts.append(("venue " if len(vs) == 1 else "venues ") + ", ".join(vs))
    if ps:
        parts.append(("production " if len(ps) == 1 else "productions ") + ", ".join(ps))
    return " or ".join(parts) or "a venue or production of it (its calendar facts name none)"


class Gate:
    """Judges a tenant's facts; the tenant of an ingest topic by its name.

    Args:
        directory: the tenant directory as the worker's reader keeps it.
        topic_prefix: the bus's topic prefix.

    """

    def __init__(self, directory: TenantDirectory, topic_prefix: str) -> None:
        self.directory = directory
        self.prefix = topic_prefix
        self._tenant_of: dict[str, str | None] = {}

    def tenant_of(self, topic: str) -> str | None:
        """The tenant whose ingest topic ``topic`` is (full name), None for any other topic."""
        try:
            return self._tenant_of[topic]
        except KeyError:
            found = tenant_of_topic(topic, self.prefix)
            tenant = self._tenant_of[topic] = found[0] if found else None
            return tenant

    def _tenant(self, name: str, what: str) -> Any:
        tenant = self.directory.get(name)
        if tenant is None:
            raise NotOwned(f"tenant {name} is not in the tenant directory ({what}); add it with "
                           "`cultuurbus tenant add` or stop its connector", "unknown_tenant")
        if tenant.revoked:
            raise NotOwned(f"tenant {name} is revoked ({what})", "revoked")
        return tenant

    def check_calendar(self, name: str, rec: dict[str, Any], pid: str | None = None) -> None:
        """A tenant's calendar fact must name a venue or production the tenant is registered for.

        Raises:
            NotOwned: why not, for the operator.

        """
        what = f"performance {pid or rec.get('performance_key')}"
        tenant = self._tenant(name, what)
        venues, productions = claims_of(rec)
        if not (any(tenant.owns_venue(v) for v in venues) or _owns_production(tenant, productions)):
            raise NotOwned(f"tenant {name} is not registered for {_named(venues, productions)} ({what})",
                           "not_registered")

    def check(self, name: str, pid: str, venues: list[str] | None, productions: list[str]) -> bool:
        """Whether tenant ``name`` may have a fact of performance ``pid`` counted, given the
        venues and productions the worker knows of it (``venues`` None: no calendar fact of it
        counted yet). Returns False when that is not known yet (hold the fact).

        Raises:
            NotOwned: the tenant is unknown, revoked, or registered for none of them.

        """
        tenant = self._tenant(name, f"performance {pid}")
        own = production_of_pid(pid)
        named = [*productions, own] if own else productions
        if _owns_production(tenant, named) or (venues and any(tenant.owns_venue(v) for v in venues)):
            return True
        if venues is None:
            return False
        raise NotOwned(f"tenant {name} is not registered for {_named(venues, named)} (performance {pid})",
                       "not_registered")


def _owns_production(tenant: Any, productions: Iterable[str]) -> bool:
    return any(tenant.owns_production(p) or tenant.owns_production(p.upper()) for p in productions)
