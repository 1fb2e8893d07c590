"""Polling mode: a vendor that lists the same cumulative numbers per performance over
``GET`` (instead of sending DIP's ``PUT`` calls), read with the SDK runner.

Each entry: ``{"production", "number", "updated", "tickets": {<type>: {tickets,
recette}}, "reservations": {reservations, value}, "blockedSeats": {blockedSeats,
value}, "capacity"}`` (the PUT bodies, together). An entry whose ``updated`` is newer
than the one last published for its performance becomes one ``SalesSnapshot``.

Position ``{"updated": {"<production>|<number>": <iso>}, "dead": [...]}``: the last
``updated`` published per performance (entries more than ``keep_days`` older than the
newest are dropped so it stays small), and hashes of the entries already
dead-lettered (a bad entry is dead-lettered once, not on every poll). Saved only after
Kafka acknowledged the snapshots.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import ValidationError

from bus.topics import SNAPSHOTS
from connectors.sdk.errors import MappingError, SourceUnavailable
from connectors.sdk.records import DeadLetter, PollResult, SourceRecord
from connectors.ticketing.dip.book import Parts, build_snapshot
from connectors.ticketing.dip.http import client_for, get_json
from connectors.ticketing.dip.payloads import BlockedBody, ReservationsBody, TicketsBody
from schemas.models import Identifier, SalesSnapshot

__all__ = ["DipCumulativeSource", "map_entry"]


def _validated(model: Any, value: Any, path: str) -> Any:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        sub = ".".join(str(p) for p in first["loc"])
        where = f"{path}.{sub}" if sub else path
        raise MappingError(f"{where}: {first['msg']}", field=where) from None


def map_entry(entry: Any, *, account: str) -> tuple[Identifier, datetime, SalesSnapshot]:
    """The snapshot of one listed performance.

    Raises:
        MappingError: naming the field.

    """
    if not isinstance(entry, dict):
        raise MappingError("entry is not an object", field="entry")
    production = entry.get("production")
    number = entry.get("number")
    if not isinstance(production, str) or not production.strip() or "|" in production:
        raise MappingError("production is missing or not a DIP production id", field="production")
    if not isinstance(number, int) or isinstance(number, bool) or number < 0:
        raise MappingError("number must be a whole number", field="number")
    try:
        updated = datetime.fromisoformat(str(entry.get("updated")))
    except ValueError:
        raise MappingError("updated is missing or not ISO-8601", field="updated") from None
    if updated.tzinfo is None:
        raise MappingError("updated needs a UTC offset", field="updated")
    updated = updated.astimezone(UTC)
    parts = Parts()
    if entry.get("tickets") is not None:
        parts = parts.with_body("tickets", _validated(TicketsBody, entry["tickets"], "tickets"))
    if entry.get("reservations") is not None:
        parts = parts.with_body("reservations", _validated(ReservationsBody, entry["reservations"],
                                                           "reservations"))
    if entry.get("blockedSeats") is not None:
        parts = parts.with_body("blocked-seats", _validated(BlockedBody, entry["blockedSeats"],
                                                            "blockedSeats"))
    capacity = entry.get("capacity")
    if capacity is not None:
        if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 0:
            raise MappingError("capacity must be a whole number >= 0", field="capacity")
        parts = Parts(parts.lines, parts.reservations, parts.blocked, capacity)
    try:
        dip = Identifier.dip(production.strip(), number)
    except ValueError as exc:
        raise MappingError(str(exc), field="number") from None
    stamp = int(updated.timestamp() * 1000)
    try:
        snap = build_snapshot(dip, parts, fact_id=f"dip:{account}:{dip.value}:poll:{stamp}",
                              event_time=updated, account=account)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        raise MappingError(f"snapshot refused by the contract: {first['msg']}",
                           field=".".join(str(p) for p in first["loc"])) from None
    return dip, updated, snap


class DipCumulativeSource:
    """A ``PollingSource`` over a vendor's cumulative list.

    Args:
        url: the list's URL.
        account: names the vendor in facts (default: the host).
        api_key: sent as ``Authorization: Bearer``.
        keep_days: how long a performance's last ``updated`` stays in the position.
        client: an httpx client (tests).

    """

    def __init__(self, url: str, *, account: str | None = None, api_key: str | None = None,
                 keep_days: int = 400, client: httpx.Client | None = None) -> None:
        self.url = url
        self.account = account or (httpx.URL(url).host or "dip")
        self.source_partition = f"dip-cumulative:{self.account}"
        self.keep = timedelta(days=keep_days)
        self._client = client_for(api_key, client)

    def close(self) -> None:
        self._client.close()

    def poll(self, position: dict[str, Any] | None) -> PollResult:
        """Snapshots of the performances updated since they were last published."""
        body = get_json(self._client, self.url)
        data = body.get("data") if isinstance(body, dict) else body
        if not isinstance(data, list):
            raise SourceUnavailable(f"{self.url} did not answer a list (or {{data: [...]}}); "
                                    "retrying", retry_after=5.0)
        last: dict[str, str] = dict((position or {}).get("updated", {}))
        dead: list[str] = list((position or {}).get("dead", []))
        items: list[SourceRecord | DeadLetter] = []
        newest: datetime | None = None
        for n, entry in enumerate(data):
            try:
                dip, updated, snap = map_entry(entry, account=self.account)
            except MappingError as exc:
                raw = json.dumps(entry, default=str, sort_keys=True).encode()
                digest = hashlib.sha256(raw).hexdigest()[:16]
                if digest not in dead:  # dead-letter a bad entry once, not on every poll
                    items.append(DeadLetter(SNAPSHOTS, raw, exc, where=f"GET {self.url} [{n}]"))
                    dead.append(digest)
                continue
            held = last.get(dip.value)
            if held is not None and datetime.fromisoformat(held) >= updated:
                continue
            items.append(SourceRecord(SNAPSHOTS, dip.key, snap))
            last[dip.value] = updated.isoformat()
            newest = updated if newest is None or updated > newest else newest
        if last:  # forget performances not updated for keep_days before the newest update
            horizon = max(datetime.fromisoformat(v) for v in last.values()) - self.keep
            last = {k: v for k, v in last.items() if datetime.fromisoformat(v) >= horizon}
        return PollResult(items, {"updated": last, "dead": dead[-1000:]}, more=False,
                          source_time=newest)
