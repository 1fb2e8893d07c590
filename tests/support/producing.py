"""A stand-in for a confluent-kafka Producer in unit tests of code that dead-letters:
keeps what it was asked to produce (the dead-letter tests read ``sent``)."""

from __future__ import annotations

from typing import Any

__all__ = ["KeptProducer"]


class KeptProducer:
    """Keeps every ``produce`` call as a dict (``topic`` plus the keyword arguments)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def produce(self, topic: str, **kw: Any) -> None:
        self.sent.append({"topic": topic, **kw})

    def poll(self, timeout: float = 0) -> int:
        return 0

    def flush(self, timeout: float = 0) -> int:
        return 0
