"""What a source hands to the SDK: facts to publish and dead letters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas.models import AvroModel

__all__ = ["DeadLetter", "PollResult", "SourceRecord"]


@dataclass(frozen=True)
class SourceRecord:
    """One fact for one topic (unprefixed catalog name), keyed by performance."""

    topic: str
    key: str
    value: AvroModel
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeadLetter:
    """Input that could not become a fact: original bytes plus why, for ``<topic>.dlq``."""

    topic: str
    raw: bytes
    error: Exception
    stage: str = "mapping"
    key: str | None = None
    where: str | None = None  # position in the source (page id, line number, request id)


@dataclass(frozen=True)
class PollResult:
    """A page from a polling source: its items and the position *after* them."""

    items: list[SourceRecord | DeadLetter]
    position: dict[str, Any]
    more: bool = False
    source_time: Any = None  # newest source timestamp seen, for lag metrics
