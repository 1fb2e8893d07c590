"""Declared availability and its reconciliation: the contract models of issue #13 item 2.

``DeclaredAvailability`` is what a calendar or vendor says about its own stock (it rides
on ``Performance`` and ``SalesSnapshot``); ``Reconciliation`` is what the streams worker
finds when it compares that with the availability it computes from ticket facts.
Re-exported by ``schemas.models``.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas.base import AvroModel, Int, Timestamp

__all__ = ["DeclaredAvailability", "DeclaredStatus", "Reconciliation", "ReconciliationState"]


class DeclaredStatus(StrEnum):
    AVAILABLE = "AVAILABLE"
    LIMITED = "LIMITED"
    SOLD_OUT = "SOLD_OUT"
    UNAVAILABLE = "UNAVAILABLE"
    UNKNOWN = "UNKNOWN"


class DeclaredAvailability(AvroModel):
    """Availability as the source declares it, where it was read and as of when."""

    __avro_schema__ = "org.cultuurbus.common.DeclaredAvailability"
    status: DeclaredStatus = DeclaredStatus.UNKNOWN
    capacity: Int | None = Field(default=None, ge=0)
    remaining: Int | None = Field(default=None, ge=0)
    source_field: str = Field(min_length=1)
    as_of: Timestamp


class ReconciliationState(StrEnum):
    DRIFT = "DRIFT"
    RESOLVED = "RESOLVED"


class Reconciliation(AvroModel):
    """Declared against computed availability of one performance."""

    __avro_schema__ = "reconciliation.avsc"
    performance_id: str
    state: ReconciliationState
    computed_remaining: Int | None = None
    computed_sold: Int = 0
    declared_remaining: Int | None = None
    declared_status: str = "UNKNOWN"
    declared_source: str
    declared_field: str | None = None
    declared_at: Timestamp
    drift: Int = 0
    threshold: Int = 0
    detected_at: Timestamp
