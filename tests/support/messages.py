"""Stand-ins for what a confluent-kafka consumer hands out: a ``Message`` and the
``KafkaError`` a message may carry, for unit tests of code that handles polled records."""

from __future__ import annotations

__all__ = ["FakeError", "FakeMessage"]

#: 2025-06-01T12:00:00Z, as (create-time type, epoch ms).
TIMESTAMP = (1, 1_748_779_200_000)


class FakeError:
    """A ``KafkaError`` with ``code`` (never fatal)."""

    def __init__(self, code: int) -> None:
        self._code = code

    def code(self) -> int:
        return self._code

    def fatal(self) -> bool:
        return False

    def str(self) -> str:
        return f"code {self._code}"


class FakeMessage:
    """A polled ``Message``: what it was built with, and a create-time timestamp."""

    def __init__(self, topic: str, key: bytes | None, value: bytes | None, *, partition: int = 0,
                 offset: int = 0, error: FakeError | None = None,
                 headers: list[tuple[str, bytes]] | None = None) -> None:
        self._topic, self._key, self._value = topic, key, value
        self._partition, self._offset, self._error, self._headers = partition, offset, error, headers

    def error(self) -> FakeError | None:
        return self._error

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def timestamp(self) -> tuple[int, int]:
        return TIMESTAMP

    def headers(self) -> list[tuple[str, bytes]] | None:
        return self._headers
