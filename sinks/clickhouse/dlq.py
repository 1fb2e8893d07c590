"""Dead letters, Kafka Connect style: the original key, value, headers and timestamp go
to ``<topic>.dlq`` with ``errors.*`` headers saying where the record came from and why
it was refused. Delivery is confirmed before the batch's offsets are committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from bus.deadletter import DeadLetter, error_headers
from bus.errors import DeliveryError
from bus.topics import dlq_of

__all__ = ["SOURCE", "DeadLetterWriter", "dlq_headers", "record_headers"]

#: ``errors.source`` of the sink's dead letters.
SOURCE = "sink-clickhouse"


def record_headers(msg: Message) -> list[tuple[str, str | bytes | None]]:
    """A consumed record's own headers, kept on its dead letter."""
    raw = msg.headers() or []
    return list(raw.items()) if isinstance(raw, dict) else list(raw)


def dlq_headers(letter: DeadLetter, group_id: str) -> list[tuple[str, str | bytes | None]]:
    """The original headers plus ``errors.*`` headers describing the failure."""
    return error_headers(topic=letter.topic, partition=letter.partition, offset=letter.offset,
                         stage=letter.stage, error=letter.error, source=SOURCE, group=group_id,
                         original=letter.headers)


class DeadLetterWriter:
    """Sends dead letters and waits for Kafka's acknowledgement.

    Args:
        producer: an idempotent producer (``bus.kafka.make_producer``).
        group_id: the sink's consumer group, recorded in ``errors.consumer.group``.
        timeout_s: how long :meth:`send` waits for acknowledgements.

    """

    def __init__(self, producer: Producer, group_id: str, timeout_s: float = 30.0) -> None:
        self._producer = producer
        self._group_id = group_id
        self._timeout_s = timeout_s

    def send(self, letters: Sequence[DeadLetter]) -> None:
        """Produce every letter to its topic's DLQ and wait until all are acknowledged.

        Raises:
            DeliveryError: a letter was not acknowledged; nothing may be committed yet.

        """
        if not letters:
            return
        failures: list[str] = []

        def on_delivery(err: KafkaError | None, _msg: Any) -> None:
            if err is not None:
                failures.append(str(err))

        for letter in letters:
            kwargs: dict[str, Any] = {}
            if letter.timestamp_ms > 0:
                kwargs["timestamp"] = letter.timestamp_ms
            while True:
                try:
                    self._producer.produce(
                        dlq_of(letter.topic), key=letter.key, value=letter.raw,
                        headers=dlq_headers(letter, self._group_id), on_delivery=on_delivery,
                        **kwargs)
                    break
                except BufferError:
                    self._producer.poll(0.1)
            self._producer.poll(0)
        left = self._producer.flush(self._timeout_s)
        if left or failures:
            raise DeliveryError(
                f"{len(failures) + left} dead letter(s) not acknowledged by Kafka "
                f"({'; '.join(failures[:3]) or 'timeout'}); the batch is kept and retried",
                retry_after=2.0)

    def close(self, timeout_s: float = 10.0) -> None:
        self._producer.flush(timeout_s)
