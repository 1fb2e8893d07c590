"""Which performances are last-minute offers: starting within the window, not started,
not cancelled or postponed, with seats left and a known capacity."""

from __future__ import annotations

from typing import Any

__all__ = ["in_window", "offer_for"]


def in_window(start: int | None, *, now_ms: int, window_ms: int) -> bool:
    """Whether a performance starting at ``start`` (epoch ms) starts within the window."""
    return start is not None and now_ms < start <= now_ms + window_ms


def offer_for(availability: dict[str, Any], *, now_ms: int, window_ms: int) -> dict[str, Any] | None:
    """The LastMinuteOffer record for an Availability record, or None to withdraw it."""
    start = availability.get("start")
    if availability.get("capacity") is None or not in_window(start, now_ms=now_ms, window_ms=window_ms):
        return None
    if availability["status"] not in ("AVAILABLE", "LIMITED"):
        return None
    remaining = availability.get("remaining") or 0
    if remaining <= 0:
        return None
    return {"performance_id": availability["performance_id"],
            "title": availability.get("title") or availability["performance_id"],
            "venue_name": availability.get("venue_name") or "",
            "city": availability.get("city"), "region": availability.get("region"),
            "genre": availability.get("genre"), "start": start, "remaining": remaining,
            "capacity": availability["capacity"], "status": availability["status"],
            "url": availability.get("url"), "updated_at": now_ms}
