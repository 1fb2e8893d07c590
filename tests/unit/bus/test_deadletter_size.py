"""A dead letter Kafka could not take keeps its first bytes and says how long it was."""

from __future__ import annotations

from bus.deadletter import MAX_VALUE_BYTES, clip, error_headers


def test_a_value_over_what_kafka_takes_keeps_its_first_bytes_and_its_size_in_headers() -> None:
    raw = b"x" * (MAX_VALUE_BYTES + 5)
    kept, size = clip(raw)
    assert kept == raw[:MAX_VALUE_BYTES] and size == MAX_VALUE_BYTES + 5
    headers = dict(error_headers(topic="t", stage="parse", error=ValueError("bad"), source="c",
                                 original_size=size))
    assert headers["errors.original.size"] == str(MAX_VALUE_BYTES + 5).encode()
    assert headers["errors.truncated"] == b"true"


def test_a_value_kafka_takes_is_kept_whole_and_not_marked() -> None:
    raw = b"x" * MAX_VALUE_BYTES
    assert clip(raw) == (raw, None)
    assert clip(None) == (None, None)
    headers = dict(error_headers(topic="t", stage="parse", error=ValueError("bad"), source="c"))
    assert "errors.truncated" not in headers and "errors.original.size" not in headers
