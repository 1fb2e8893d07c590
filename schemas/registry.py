"""The contract's files: load an ``.avsc`` and know which model mirrors it."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from schemas import candidate, models, venue

__all__ = ["MODELS", "load_schema", "schema_files"]

#: Schema file -> the pydantic model that mirrors it.
MODELS: dict[str, type[models.AvroModel]] = {
    m.__avro_schema__: m
    for m in (
        models.TicketEvent,
        models.SalesSnapshot,
        models.Performance,
        models.IdentityLink,
        models.Availability,
        models.Attendance,
        models.SalesWindow,
        models.LastMinuteOffer,
        candidate.IdentityCandidate,
        models.Reconciliation,
        venue.VenueLink,
    )
}


def schema_files() -> list[str]:
    """Names of every ``.avsc`` file in the contract."""
    return sorted(
        p.name for p in resources.files("schemas").joinpath("avro").iterdir()
        if p.name.endswith(".avsc")
    )


@cache
def _load(name: str) -> str:
    return resources.files("schemas").joinpath("avro", name).read_text(encoding="utf-8")


def load_schema(name: str) -> dict[str, Any]:
    """The JSON of one schema file, e.g. ``load_schema("ticket_event.avsc")``."""
    return json.loads(_load(name))
