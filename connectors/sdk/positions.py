"""Durable source positions, stored as JSON in the compacted ``connect.positions`` topic.

Key ``<connector>|<source partition>``; value ``{"position": {...}, "saved_at": ...}``.
A position is saved only after the records before it were acknowledged by Kafka
(``Publisher.publish`` returned), so a crash in between replays records (same fact
ids, deduplicated downstream) and never skips one.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from bus.errors import DeliveryError, RetriableError
from bus.kafka import make_consumer
from connectors.sdk.publisher import Publisher

__all__ = ["PositionStore"]

from bus.tenants import tenant_topic
from bus.topics import CONNECT_POSITIONS


def _watermarks(consumer: Any, tp: TopicPartition, timeout: float) -> tuple[int, int]:
    """Watermarks, retried while a fresh topic's partition has no leader yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            lo, hi = consumer.get_watermark_offsets(tp, timeout=timeout)
            return int(lo), int(hi)
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


class PositionStore:
    def __init__(self, publisher: Publisher, connector: str) -> None:
        self._publisher = publisher
        self.connector = connector
        self._positions: dict[str, dict[str, Any]] | None = None

    def _key(self, source_partition: str) -> str:
        return f"{self.connector}|{source_partition}"

    def load_all(self, timeout: float = 30.0) -> dict[str, dict[str, Any]]:
        """Read the topic to its end once; later calls use what was read and saved."""
        if self._positions is not None:
            return self._positions
        settings = self._publisher.settings
        topic = tenant_topic(CONNECT_POSITIONS, settings.connector.tenant, settings.topic_prefix)
        consumer = make_consumer(settings.kafka, f"positions-reader-{uuid.uuid4().hex[:8]}")
        out: dict[str, dict[str, Any]] = {}
        prefix = f"{self.connector}|"
        try:
            lo, hi = _watermarks(consumer, TopicPartition(topic, 0), timeout)
            if hi > lo:
                consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    msg = consumer.poll(0.5)
                    if msg is None:
                        continue
                    if msg.error():
                        raise RetriableError(f"reading positions from {topic}: {msg.error()}")
                    key = (msg.key() or b"").decode()
                    if key.startswith(prefix):
                        part = key[len(prefix):]
                        value = msg.value()
                        if value is None:
                            out.pop(part, None)
                        else:
                            out[part] = json.loads(value)["position"]
                    if (msg.offset() or 0) >= hi - 1:
                        break
                else:
                    raise RetriableError(f"timed out reading positions from {topic}")
        except RetriableError:
            raise
        except Exception as exc:
            raise RetriableError(f"cannot read positions from {topic}: {exc}") from exc
        finally:
            consumer.close()
        self._positions = out
        return out

    def get(self, source_partition: str) -> dict[str, Any] | None:
        return self.load_all().get(source_partition)

    @staticmethod
    def _value(position: dict[str, Any]) -> bytes:
        return json.dumps({"position": position, "saved_at": datetime.now(UTC).isoformat()}).encode()

    def _produce(self, source_partition: str, position: dict[str, Any]) -> Any:
        return self._publisher.produce_raw(CONNECT_POSITIONS, self._key(source_partition),
                                           self._value(position))

    def _timeout(self, timeout: float | None) -> float:
        return timeout or self._publisher.settings.connector.delivery_timeout_s + 5

    def save(self, source_partition: str, position: dict[str, Any],
             timeout: float | None = None) -> None:
        """Write the position and wait for Kafka's ack."""
        try:
            self._produce(source_partition, position).result(timeout=self._timeout(timeout))
        except Exception as exc:
            raise DeliveryError(f"position of {self.connector}/{source_partition} not saved: "
                                f"{exc}") from exc
        self.load_all()[source_partition] = position

    async def save_async(self, source_partition: str, position: dict[str, Any],
                         timeout: float | None = None) -> None:
        """``save`` for an event loop: awaits the ack (positions already read; ``load_all``
        first otherwise)."""
        try:
            await self._publisher.produce_raw_async(CONNECT_POSITIONS, self._key(source_partition),
                                                    self._value(position), self._timeout(timeout))
        except Exception as exc:
            raise DeliveryError(f"position of {self.connector}/{source_partition} not saved: "
                                f"{exc}") from exc
        self.load_all()[source_partition] = position
