"""The demo's live table: performances read from the availability and last-minute
topics, start times in local time (labelled), what sells and what is left."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, TopicPartition
from rich.table import Table

from bus.kafka import make_consumer
from bus.localtime import local_text
from bus.serde import AvroDeserializer, Registry
from bus.settings import Settings
from bus.topics import AVAILABILITY, LASTMINUTE, topic_name
from schemas import load_schema

__all__ = ["Board", "BoardReader"]


@dataclass
class Board:
    """The availability and offers the demo has read, for the live table."""

    availability: dict[str, dict[str, Any]] = field(default_factory=dict)
    offers: set[str] = field(default_factory=set)
    changes: int = 0

    def table(self, elapsed: float, sim_running: bool, limit: int = 18) -> Table:
        state = "selling" if sim_running else "season delivered"
        t = Table(title=f"cultuurbus — live availability ({state}, {elapsed:0.0f}s, "
                        f"{self.changes} changes, {len(self.offers)} last-minute offers)",
                  title_justify="left")
        for col, kw in (("start (local time)", {}), ("performance", {"max_width": 34}),
                        ("venue", {"max_width": 24}),
                        ("cap", {"justify": "right"}), ("sold", {"justify": "right"}),
                        ("left", {"justify": "right"}), ("status", {})):
            t.add_column(col, **kw)
        now = datetime.now(UTC)
        rows = sorted(self.availability.values(),
                      key=lambda a: (a["start"] is None or a["start"] < now, a["start"] or now))
        colour = {"SOLD_OUT": "red", "LIMITED": "yellow", "AVAILABLE": "green", "CANCELLED": "magenta",
                  "POSTPONED": "cyan"}
        for a in rows[:limit]:
            start = local_text(a["start"]) if a["start"] else "?"
            lm = " *" if a["performance_id"] in self.offers else ""
            t.add_row(start, (a["title"] or a["performance_id"]) + lm, a["venue_name"] or "",
                      str(a["capacity"] if a["capacity"] is not None else "?"), str(a["sold"]),
                      str(a["remaining"] if a["remaining"] is not None else "?"),
                      f"[{colour.get(a['status'], 'white')}]{a['status']}[/]")
        t.caption = "* = last-minute offer (starts within 48 h, seats left)"
        return t


class BoardReader:
    """Follows the availability and last-minute topics from the beginning."""

    def __init__(self, settings: Settings) -> None:
        self.board = Board()
        reg = Registry(settings.registry)
        self._av = AvroDeserializer(reg, load_schema("availability.avsc"))
        prefix = settings.topic_prefix
        self._names = {topic_name(AVAILABILITY, prefix): "av", topic_name(LASTMINUTE, prefix): "lm"}
        self._c = make_consumer(settings.kafka, f"demo-{uuid.uuid4().hex[:8]}",
                                isolation_level="read_uncommitted")
        parts = []
        for name in self._names:
            meta = self._c.list_topics(name, timeout=10).topics[name]
            parts += [TopicPartition(name, p, OFFSET_BEGINNING) for p in meta.partitions]
        self._c.assign(parts)

    def poll(self, budget_s: float = 0.3) -> None:
        end = time.monotonic() + budget_s
        while time.monotonic() < end:
            msg = self._c.poll(0.05)
            if msg is None or msg.error():
                continue
            key = (msg.key() or b"").decode()
            if self._names.get(msg.topic() or "") == "lm":
                (self.board.offers.add if msg.value() is not None else self.board.offers.discard)(key)
                continue
            if msg.value() is None:
                continue
            rec = self._av(msg.value())
            if rec is not None:
                self.board.availability[key] = rec
                self.board.changes += 1

    def close(self) -> None:
        self._c.close()
