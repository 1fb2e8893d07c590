"""One decoded fact of a batch, and what the facts agent hands the facts of a batch to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from streams.context import Out

__all__ = ["Fact", "FactDomain"]


@dataclass(slots=True)
class Fact:
    kind: str  # ticket | snapshot | performance
    rec: dict[str, Any]  # the fact, timestamps as int milliseconds
    offset: int  # its offset on participation.facts (see streams.store)
    event: Any  # the Faust event, for the table partition
    #: its ``streams.context.MOVE_HEADER``: None for an ordinary fact, ``retract/<n>`` for a
    #: retraction (undo the fact in the performance it is keyed by), ``<n>`` for a re-sent fact
    move: str | None = None
    #: the tenant whose ingest topic it came from (``streams.tenancy.TENANT_HEADER``), else None
    tenant: str | None = None

    @property
    def retract(self) -> bool:
        return self.move is not None and self.move.startswith("retract/")

    @property
    def dedup_id(self) -> str:
        """What ``facts-seen`` knows this delivery by: the fact id, and the move if it is one."""
        fid = str(self.rec["fact_id"])
        return fid if self.move is None else f"{fid}~{self.move}"


class FactDomain(Protocol):
    """A domain the facts agent applies facts to (availability, attendance, sales)."""

    #: Its name in metrics, logs and dead letters.
    agent: str

    def apply(self, pid: str, facts: list[Fact], out: list[Out]) -> None:
        """Apply one performance's first deliveries of a batch, in order; add what to publish
        to ``out``. Raising makes the agent apply the facts one by one and dead-letter the
        ones that raise."""
