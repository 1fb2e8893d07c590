"""Reading a topic to its end, as a test checks what a role published."""

from __future__ import annotations

import time
import uuid
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from bus.kafka import make_consumer
from bus.settings import Settings

__all__ = ["read_all"]


def read_all(settings: Settings, topic: str, timeout: float = 30) -> list[Any]:
    """Every message of ``topic`` (unprefixed) up to its end when called, partition by
    partition; fails when a partition is not read to its end within ``timeout``."""
    c = make_consumer(settings.kafka, f"read-{uuid.uuid4().hex[:6]}")
    out: list[Any] = []
    try:
        name = settings.topic_prefix + topic
        for p in c.list_topics(name, timeout=10).topics[name].partitions:
            _, high = c.get_watermark_offsets(TopicPartition(name, p), timeout=10)
            if high <= 0:
                continue
            c.assign([TopicPartition(name, p, OFFSET_BEGINNING)])
            deadline = time.monotonic() + timeout
            while True:
                assert time.monotonic() < deadline, f"timed out reading {name}[{p}]"
                m = c.poll(1)
                if m is None or m.error():
                    continue
                out.append(m)
                if m.offset() >= high - 1:
                    break
    finally:
        c.close()
    return out
