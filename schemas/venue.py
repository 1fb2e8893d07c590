"""The venue crosswalk entry (``venue_link.avsc``): kept apart from ``schemas.models``
so that module stays one screenful per idea."""

from __future__ import annotations

from pydantic import Field

from schemas.base import AvroModel, Timestamp

__all__ = ["VenueLink"]


class VenueLink(AvroModel):
    """A source's venue id and the canonical venue it is, with why."""

    __avro_schema__ = "venue_link.avsc"
    venue_id: str = Field(min_length=1)
    canonical_id: str = Field(min_length=1)
    reason: str
    score: float | None = None
    evidence: str | None = None
    via: str | None = None
    name: str
    city: str | None = None
    postcode: str | None = None
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    candidate_id: str | None = None
    candidate_score: float | None = None
    updated_at: Timestamp
