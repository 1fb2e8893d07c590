"""One decoded fact of a batch, as every domain of the facts agent sees it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Fact"]


@dataclass(slots=True)
class Fact:
    kind: str  # ticket | snapshot | performance
    rec: dict[str, Any]  # the fact, timestamps as int milliseconds
    offset: int  # its offset on participation.facts (see streams.store)
    event: Any  # the Faust event, for the table partition
