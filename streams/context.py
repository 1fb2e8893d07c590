"""What every domain module of the streams app is given: the Faust app, the settings,
the codec, metrics, the crosswalk and the topics (by unprefixed catalog name)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import faust
from prometheus_client import CollectorRegistry

from bus.log import get_logger
from bus.settings import Settings
from bus.topics import dlq_of
from streams.codec import KIND_HEADER, FactCodec
from streams.identity.crosswalk import Crosswalk
from streams.metrics import StreamsMetrics

__all__ = ["StreamsContext", "header", "now_ms", "to_ms"]

log = get_logger("streams")


def now_ms() -> int:
    return int(time.time() * 1000)


def to_ms(value: Any) -> int | None:
    if value is None or isinstance(value, int):
        return value
    return int(value.timestamp() * 1000)


def header(event: Any, name: str) -> str | None:
    headers = event.headers or {}
    items = headers.items() if isinstance(headers, dict) else headers
    for k, v in items:
        if k == name:
            return v.decode() if isinstance(v, bytes) else str(v)
    return None


@dataclass
class StreamsContext:
    app: faust.App
    settings: Settings
    codec: FactCodec
    metrics: StreamsMetrics
    registry: CollectorRegistry
    crosswalk: Crosswalk
    _topics: dict[str, faust.TopicT] = field(default_factory=dict)

    def table(self, name: str, help: str) -> Any:  # noqa: A002 - Faust's word
        """A JSON-valued RocksDB table with a changelog, co-partitioned with the facts."""
        from bus.topics import PARTITIONS

        return self.app.Table(name, default=None, partitions=PARTITIONS, help=help,
                              schema=faust.Schema(key_type=str, key_serializer="json",
                                                  value_serializer="json"))

    def name(self, topic: str) -> str:
        return self.settings.topic_prefix + topic

    def topic(self, *topics: str) -> faust.TopicT:
        """A raw-bytes Faust topic over one or more catalog topics."""
        key = "+".join(topics)
        t = self._topics.get(key)
        if t is None:
            t = self.app.topic(*(self.name(x) for x in topics), key_type=bytes, value_type=bytes,
                               key_serializer="raw", value_serializer="raw")
            self._topics[key] = t
        return t

    async def send(self, topic: str, key: str, value: bytes | None,
                   kind: str | None = None) -> None:
        headers = [(KIND_HEADER, kind.encode())] if kind else None
        if value is None:  # a tombstone must reach Kafka as a real null value
            await self.app.producer.send(self.name(topic), key.encode(), None, partition=None,
                                         timestamp=None, headers=None)
            return
        await self.topic(topic).send(key=key.encode(), value=value, headers=headers)

    async def dead_letter(self, event: Any, error: Exception, agent: str) -> None:
        """Send an undecodable message to its topic's DLQ with the error; never crash."""
        topic = event.message.topic
        prefix = self.settings.topic_prefix
        base = topic[len(prefix):] if topic.startswith(prefix) else topic
        self.metrics.decode_errors.labels(base).inc()
        headers = [
            ("errors.topic", topic.encode()), ("errors.partition", str(event.message.partition).encode()),
            ("errors.offset", str(event.message.offset).encode()), ("errors.stage", b"streams-decode"),
            ("errors.exception.class", type(error).__name__.encode()),
            ("errors.exception.message", str(error)[:2000].encode()),
            ("errors.source", agent.encode()),
            ("errors.timestamp", datetime.now(UTC).isoformat().encode()),
        ]
        await self.app.producer.send(self.name(dlq_of(base)), event.key, event.value, partition=None,
                                     timestamp=None, headers=headers)
        log.warning("dead letter", extra={"agent": agent, "topic": topic,
                                          "offset": event.message.offset, "error": str(error)[:300]})

    def observe(self, agent: str, fact: dict[str, Any]) -> None:
        now = time.time()
        ing = to_ms(fact.get("ingested_at"))
        if ing is not None:
            self.metrics.latency.labels(agent).observe(max(now - ing / 1000, 0.0))
        et = to_ms(fact.get("event_time"))
        if et is not None:
            self.metrics.fact_age.labels(agent).observe(max(now - et / 1000, 0.0))
