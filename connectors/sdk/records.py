"""What a source hands to the SDK: facts to publish and dead letters (``bus.deadletter``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bus.deadletter import DeadLetter
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
class PollResult:
    """A page from a polling source: its items and the position *after* them."""

    items: list[SourceRecord | DeadLetter]
    position: dict[str, Any]
    more: bool = False
    source_time: Any = None  # newest source timestamp seen, for lag metrics
