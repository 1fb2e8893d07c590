"""The eventstream as a ``PollingSource``: one poll reads one page after the cursor.

Position: ``{"id": <nextid>}`` under source partition ``ticketmatic:<account>``. The
runner saves it only after Kafka acknowledged every fact and dead letter of the page,
so a crash replays the page (same fact ids) and never skips one. A page that cannot be
read (5xx, timeout, malformed JSON) raises before anything is published, and the
runner backs off and asks for the same cursor again.

An item that cannot be mapped is dead-lettered (customer details withheld) and the
page goes on; items the bus does not use (basket actions, exits, drafts, unknown
types) are counted in ``cultuurbus_eventstream_items_skipped``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from bus.log import get_logger
from connectors.sdk.errors import MappingError, SourceUnavailable
from connectors.sdk.records import DeadLetter, PollResult, SourceRecord
from connectors.ticketing.eventstream.client import EventstreamClient
from connectors.ticketing.eventstream.mapping import (
    MappingEnv,
    map_item,
    redacted_item_bytes,
    topic_of,
)
from connectors.ticketing.eventstream.metrics import EventstreamMetrics

__all__ = ["EventstreamSource"]

log = get_logger(__name__)


class EventstreamSource:
    """A ``PollingSource`` over ``GET /{account}/eventstream``.

    Args:
        client: reads pages.
        env: mapping configuration (account, price types, id fields, pseudonymiser).
        start_id: the cursor of a first run (no saved position); ``"0"`` reads all.
        metrics: counts skipped items (optional).
        connector: the connector name, as metrics label.

    """

    def __init__(self, client: EventstreamClient, env: MappingEnv, *, start_id: str = "0",
                 metrics: EventstreamMetrics | None = None,
                 connector: str = "eventstream") -> None:
        self.client = client
        self.env = env
        self.start_id = start_id
        self.metrics = metrics
        self.connector = connector
        self.source_partition = f"ticketmatic:{env.account}"

    def poll(self, position: dict[str, Any] | None) -> PollResult:
        """Map the page at the cursor; the position after it is its ``nextid``."""
        cursor = str(position.get("id") or self.start_id) if position else self.start_id
        page = self.client.page(cursor)
        if self.metrics is not None:
            self.metrics.pages.labels(self.connector).inc()
        if page.results and page.nextid == cursor:
            raise SourceUnavailable(f"eventstream returned {len(page.results)} items but nextid "
                                    f"{cursor!r} did not advance; retrying", retry_after=5.0)
        items: list[SourceRecord | DeadLetter] = []
        newest: datetime | None = None
        for n, item in enumerate(page.results):
            item_id = item.get("id") if isinstance(item, dict) else None
            where = f"eventstream id={cursor} result {n} (item {item_id})"
            type_ = item.get("type") if isinstance(item, dict) else None
            try:
                try:
                    mapped = map_item(item, self.env)
                except ValidationError as exc:
                    raise MappingError.unsatisfied(exc) from exc
            except MappingError as exc:
                items.append(DeadLetter(topic_of(type_), redacted_item_bytes(item), exc,
                                        where=where))
                continue
            self.env.event_ids.update(mapped.links)
            if mapped.skipped:
                log.debug("item skipped", extra={"item": item_id, "type": type_,
                                                 "reason": mapped.skipped})
                if self.metrics is not None:
                    self.metrics.skipped.labels(self.connector, mapped.skipped).inc()
            items.extend(mapped.records)
            for r in mapped.records:
                t = r.value.event_time  # type: ignore[attr-defined]
                newest = t if newest is None or t > newest else newest
        return PollResult(items, {"id": page.nextid}, more=page.moreresults and bool(page.results),
                          source_time=newest)
