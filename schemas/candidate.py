"""The identity match candidate (``identity_candidate.avsc``): kept apart from
``schemas.models`` so that module stays one screenful per idea."""

from __future__ import annotations

from enum import StrEnum

from schemas.base import AvroModel, Timestamp

__all__ = ["CandidateDescription", "CandidateState", "IdentityCandidate"]


class CandidateState(StrEnum):
    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    UNDONE = "UNDONE"


class CandidateDescription(AvroModel):
    """One calendar description of a performance, as matching saw it."""

    __avro_schema__ = "org.cultuurbus.participation.CandidateDescription"
    keys: list[str]
    source: str
    title: str
    start: Timestamp
    venue_name: str | None = None
    venue_city: str | None = None
    venue_postcode: str | None = None
    venue_id: str | None = None


class IdentityCandidate(AvroModel):
    """A match a person may decide on (PENDING) or undo (ACCEPTED)."""

    __avro_schema__ = "identity_candidate.avsc"
    candidate_id: str
    day: str
    state: CandidateState = CandidateState.PENDING
    score: float
    reason: str
    description: CandidateDescription
    target_id: str
    target: CandidateDescription
    created_at: Timestamp
    decided_by: str | None = None
    decided_at: Timestamp | None = None
    fact_kind: str
    fact: str
