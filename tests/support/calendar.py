"""Dates for the calendar tests: performances a day apart, soon enough to be in every
connector's event-time window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["daily_starts"]


def daily_starts(days_ahead: int, count: int = 3) -> list[datetime]:
    """``count`` starts a day apart, the first ``days_ahead`` days from now (UTC, whole seconds)."""
    first = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days_ahead)
    return [first + timedelta(days=n) for n in range(count)]
