"""Replay detection: delivery keys answered 2xx recently, bounded in size and age.

This memory is an optimisation, not the guarantee: it is lost on restart, and then a
replay is published again with the same fact ids, which consumers deduplicate.
"""

from __future__ import annotations

from cachetools import TTLCache

__all__ = ["DeliveryMemory"]


class DeliveryMemory:
    """Remembers delivery keys.

    Args:
        size: keys kept at most (least recently used go first).
        ttl_s: seconds a key is kept.

    """

    def __init__(self, size: int, ttl_s: float) -> None:
        self._seen: TTLCache[str, bool] = TTLCache(maxsize=size, ttl=ttl_s)

    def seen(self, key: str) -> bool:
        return key in self._seen

    def remember(self, key: str) -> None:
        """Call only after Kafka acknowledged what the delivery published."""
        self._seen[key] = True

    def __len__(self) -> int:
        return len(self._seen)
