"""A fact the identity agent decoded and forwarded is not decoded again by the facts agent."""

from __future__ import annotations

from typing import Any

from bus.errors import SerializationError
from streams import codec
from streams.codec import FactCodec


def codec_counting_decodes(monkeypatch: Any) -> tuple[FactCodec, list[bytes]]:
    c = FactCodec(registry=None, topic_prefix="")  # type: ignore[arg-type]
    calls: list[bytes] = []

    def decode(raw: bytes) -> tuple[str, dict[str, Any]]:
        calls.append(raw)
        if raw.startswith(b"bad"):
            raise SerializationError("not a fact")
        return "ticket", {"fact_id": raw.decode()}

    monkeypatch.setattr(c, "decode", decode)
    return c, calls


def test_the_facts_agent_takes_the_record_the_identity_agent_decoded_from_the_same_bytes(monkeypatch: Any) -> None:
    c, calls = codec_counting_decodes(monkeypatch)
    routed = c.decode(b"f1")
    c.remember(b"f1", routed)
    assert c.decode_forwarded(b"".join([b"f", b"1"])) is routed  # equal bytes, another object
    assert calls == [b"f1"]
    assert c.decode_forwarded(b"f1") == routed  # a second delivery (a replay) is decoded again
    assert calls == [b"f1", b"f1"]


def test_bytes_nobody_decoded_here_are_decoded_and_bad_ones_still_raise(monkeypatch: Any) -> None:
    c, calls = codec_counting_decodes(monkeypatch)
    assert c.decode_forwarded(b"f2") == ("ticket", {"fact_id": "f2"})
    try:
        c.decode_forwarded(b"bad bytes")
    except SerializationError:
        pass
    else:
        raise AssertionError("undecodable bytes must raise, to be dead-lettered")
    assert calls == [b"f2", b"bad bytes"]


def test_at_most_forwarded_max_records_are_kept_the_oldest_going_first(monkeypatch: Any) -> None:
    monkeypatch.setattr(codec, "FORWARDED_MAX", 3)
    c, calls = codec_counting_decodes(monkeypatch)
    for i in range(5):
        c.remember(b"f%d" % i, ("ticket", {"fact_id": f"f{i}"}))
    assert len(c._forwarded) == 3
    c.decode_forwarded(b"f0")  # evicted: decoded again
    c.decode_forwarded(b"f4")  # kept
    assert calls == [b"f0"]
