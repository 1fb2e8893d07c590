"""DIP's calendar as a ``PollingSource``: productions modified since the cursor, each with
its performances, published as ``Performance`` facts on ``calendar.performances``.

Requests (see ``connectors/fakes/dip.py``; DIP's real paths may differ, the base
URL and paths are the only things to change): ``GET {base}/productions?modifiedSince=
<iso>&page=<n>&pageSize=<n>`` sorted by ``updated``, then ``GET {base}/productions/
{id}/performances`` per production.

Position ``{"modifiedSince": <newest updated processed>, "seen": [production ids
updated at exactly that instant]}``: ``modifiedSince`` is inclusive, so productions of
that instant come back and the ones already processed are skipped; a later edit (a
newer ``updated``) is read again. A performance that cannot be mapped is dead-lettered
and the others go on; an HTTP failure raises before anything is published (the runner
backs off and asks again).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from bus.topics import PERFORMANCES
from connectors.sdk.errors import MappingError, SourceUnavailable
from connectors.sdk.records import DeadLetter, PollResult, SourceRecord
from connectors.ticketing.dip.calendar_mapping import map_performance, parse_when
from connectors.ticketing.dip.http import client_for, get_json

__all__ = ["DipCalendarSource"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _data(body: Any, url: str) -> list[Any]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise SourceUnavailable(f"DIP answered {url} without a data list; retrying",
                                retry_after=5.0)
    return data


class DipCalendarSource:
    """A ``PollingSource`` over DIP productions and performances.

    Args:
        base_url: the API root, e.g. ``https://api.dip.nl`` (assumed paths above).
        account: names this feed in facts (default: the host).
        api_key: sent as ``Authorization: Bearer``.
        page_size: ``pageSize`` of the productions list.
        since: where a first run starts (default: everything).
        client: an httpx client (tests).

    """

    def __init__(self, base_url: str, *, account: str | None = None, api_key: str | None = None,
                 page_size: int = 50, since: datetime | None = None,
                 client: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.account = account or (httpx.URL(self.base_url).host or "dip")
        self.source_partition = f"dip-calendar:{self.account}"
        self.page_size = page_size
        self.since = since or _EPOCH
        self._client = client_for(api_key, client)

    def close(self) -> None:
        self._client.close()

    @staticmethod
    def _stamp(production: Any) -> tuple[datetime, str] | None:
        if not isinstance(production, dict) or production.get("id") in (None, ""):
            return None
        try:
            return parse_when(production.get("updated"), "updated"), str(production["id"])
        except MappingError:
            return None

    def poll(self, position: dict[str, Any] | None) -> PollResult:
        """The next page of modified productions after the cursor, with their performances."""
        cursor = datetime.fromisoformat(position["modifiedSince"]) if position else self.since
        seen = set(position.get("seen", [])) if position else set()

        def old(p: Any) -> bool:
            s = self._stamp(p)
            return s is not None and s[0] <= cursor and s[1] in seen

        url = f"{self.base_url}/productions"
        page_no, data = 1, []
        while True:
            data = _data(get_json(self._client, url, {"modifiedSince": cursor.isoformat(),
                                                      "page": page_no, "pageSize": self.page_size}),
                         url)
            if len(data) < self.page_size or not all(old(p) for p in data):
                break
            page_no += 1
        items: list[SourceRecord | DeadLetter] = []
        newest, newest_ids = cursor, set(seen)
        for production in data:
            if old(production):
                continue
            items.extend(self._performances(production))
            stamp = self._stamp(production)
            if stamp is not None:
                if stamp[0] > newest:
                    newest, newest_ids = stamp[0], {stamp[1]}
                elif stamp[0] == newest:
                    newest_ids.add(stamp[1])
        progressed = newest > cursor or newest_ids != seen
        return PollResult(items, {"modifiedSince": newest.isoformat(), "seen": sorted(newest_ids)},
                          more=progressed and len(data) >= self.page_size,
                          source_time=newest if newest > _EPOCH else None)

    def _performances(self, production: Any) -> list[SourceRecord | DeadLetter]:
        raw = json.dumps(production, default=str).encode()
        prod_id = production.get("id") if isinstance(production, dict) else None
        if not isinstance(production, dict) or not isinstance(prod_id, str | int) or prod_id == "":
            return [DeadLetter(PERFORMANCES, raw, MappingError("production has no id", field="id"),
                               where=f"{self.base_url}/productions")]
        url = f"{self.base_url}/productions/{quote(str(prod_id), safe='')}/performances"
        out: list[SourceRecord | DeadLetter] = []
        for n, perf in enumerate(_data(get_json(self._client, url), url)):
            try:
                try:
                    fact = map_performance(production, perf, account=self.account)
                except ValidationError as exc:
                    raise MappingError.unsatisfied(exc, "performance") from exc
            except MappingError as exc:
                body = json.dumps({"production": production, "performance": perf},
                                  default=str).encode()
                out.append(DeadLetter(PERFORMANCES, body, exc, where=f"{url} [{n}]",
                                      key=f"dip|{prod_id}"))
                continue
            out.append(SourceRecord(PERFORMANCES, fact.performance_key, fact))
        return out
