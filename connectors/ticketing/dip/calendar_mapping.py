"""DIP productions and performances -> ``Performance`` facts (pure functions).

One fact per performance, keyed ``dip|<production>|<number>``. ``fact_id`` is
``dip:<account>:<production>|<number>:<content hash>``: the same production and
performance give the same id, any change a new one. Naive dates are local
(Europe/Amsterdam); a date without a time starts at local midnight.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from connectors.sdk.errors import MappingError
from schemas.models import Identifier, Performance, PerformanceStatus, Venue, utcnow

__all__ = ["STATUSES", "map_performance", "parse_when"]

STATUSES = {"agreed": PerformanceStatus.SCHEDULED, "cancellation": PerformanceStatus.CANCELLED}
LOCAL = ZoneInfo("Europe/Amsterdam")


def parse_when(value: Any, path: str) -> datetime:
    """An ISO date or datetime; naive values are Dutch local time."""
    if not isinstance(value, str) or not value.strip():
        raise MappingError(f"{path} is missing", field=path)
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise MappingError(f"{path} {text[:40]!r} is not an ISO-8601 date", field=path) from None
    if len(text) == 10:  # a date alone
        parsed = datetime.combine(date.fromisoformat(text), datetime.min.time())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=LOCAL)
    return parsed.astimezone(UTC)


def _str(obj: Any, key: str, path: str, required: bool = True) -> str | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    if required:
        raise MappingError(f"{path}.{key} is missing", field=f"{path}.{key}")
    return None


def _capacity(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, list):
        seats = [r.get("capacity") if isinstance(r, dict) else None for r in value]
        if all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seats):
            return sum(s for s in seats if isinstance(s, int))
    raise MappingError("performance.capacity must be seats (integer >= 0) or a list of "
                       "{rank, capacity} per seat rank", field="performance.capacity")


def content_id(production: dict[str, Any], performance: dict[str, Any]) -> str:
    raw = json.dumps([production, performance], sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def map_performance(production: dict[str, Any], performance: Any, *, account: str) -> Performance:
    """The Performance of one DIP performance of ``production``.

    Raises:
        MappingError: naming the field (the caller dead-letters the performance).

    """
    prod_id = _str(production, "id", "production")
    title = _str(production, "title", "production")
    if not isinstance(performance, dict):
        raise MappingError("performance is not an object", field="performance")
    number = performance.get("number")
    if isinstance(number, str) and number.isdigit():
        number = int(number)
    if not isinstance(number, int) or isinstance(number, bool) or number < 0:
        raise MappingError("performance.number must be a whole number", field="performance.number")
    status = STATUSES.get(str(performance.get("status", "")).lower())
    if status is None:
        raise MappingError(f"performance.status {str(performance.get('status'))[:20]!r} is not "
                           "agreed or cancellation", field="performance.status")
    theater = performance.get("theater")
    if not isinstance(theater, dict):
        raise MappingError("performance.theater is missing", field="performance.theater")
    province = theater.get("province") if isinstance(theater.get("province"), dict) else {}
    venue = Venue(id=f"dip:theater:{_str(theater, 'id', 'performance.theater')}",
                  name=_str(theater, "name", "performance.theater") or "?",
                  city=_str(theater, "city", "theater", required=False),
                  postcode=_str(theater, "zipcode", "theater", required=False),
                  country="NL", region=_str(province, "name", "province", required=False))
    genre = production.get("genre")
    try:
        dip = Identifier.dip(prod_id or "?", number)
    except ValueError as exc:
        raise MappingError(str(exc), field="performance.number") from None
    updated = production.get("updated")
    return Performance(
        fact_id=f"dip:{account}:{dip.value}:{content_id(production, performance)}",
        event_time=parse_when(updated, "production.updated") if updated else utcnow(),
        ingested_at=utcnow(), source_system="dip", source_account=account,
        performance_key=dip.key, identifiers=[dip], production_id=prod_id, title=title or "?",
        genre=_str(genre, "name", "production.genre", required=False), venue=venue,
        start=parse_when(performance.get("date"), "performance.date"),
        capacity=_capacity(performance.get("capacity")), status=status)
