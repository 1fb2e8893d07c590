"""What the sink does when the consumer group takes its partitions or gives it new
ones. A mixin of :class:`sinks.clickhouse.sink.ClickHouseSink`, whose loop state (the
open batch, the batch in flight, the phase) these callbacks change.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import Consumer, TopicPartition

from bus.log import get_logger
from sinks.clickhouse.batch import Batch
from sinks.clickhouse.committing import Phase
from sinks.clickhouse.metrics import SinkMetrics
from sinks.clickhouse.positions import Positions

__all__ = ["Rebalancing"]

log = get_logger("sinks.clickhouse")


class Rebalancing:
    """``on_assign``, ``on_revoke`` and ``on_lost`` of the sink's consumer."""

    metrics: SinkMetrics
    _batch: Batch
    _inflight: Any
    _phase: Phase

    def _pos(self) -> Positions:
        raise NotImplementedError

    def _flush(self, *, final: bool = False, in_revoke: bool = False) -> bool:
        raise NotImplementedError

    def _drain(self) -> None:
        raise NotImplementedError

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._pos().assigned = {(tp.topic, tp.partition) for tp in partitions}
        self.metrics.assigned.set(len(partitions))
        log.info("partitions assigned", extra={"count": len(partitions)})

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("partitions revoked", extra={"count": len(partitions), "open": len(self._batch),
                                              "in_flight": self._inflight is not None})
        self.metrics.assigned.set(0)
        if self._phase is not Phase.CONSUMING:
            self._phase = Phase.ABANDONED  # the retry in progress abandons its batch
        else:
            self._flush(in_revoke=True)  # the batch in flight, then the open one
        self._batch = Batch()
        self._pos().assigned = set()

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.warning("partitions lost; the open batch is dropped uncommitted",
                    extra={"count": len(partitions), "open": len(self._batch),
                           "in_flight": self._inflight is not None})
        self.metrics.assigned.set(0)
        if self._phase is not Phase.CONSUMING:
            self._phase = Phase.ABANDONED
        self._drain()
        self._batch = Batch()
        self._pos().assigned = set()
