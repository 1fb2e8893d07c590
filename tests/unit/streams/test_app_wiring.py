"""What the worker built by ``streams.app`` serves about its crosswalk reader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from bus.settings import Settings
from streams.app import create_app


def test_the_worker_serves_the_crosswalk_readers_counts_and_health(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    built = create_app(Settings.model_validate({"streams": {"data_dir": str(tmp_path)}}), registry=registry)
    served = generate_latest(registry).decode()
    assert "cultuurbus_compacted_records_total" in served and "cultuurbus_compacted_ready" in served
    report = built.health.report()
    assert report["checks"] == {"partitions_assigned": False, "crosswalk_read": False,
                                "crosswalk_reader_running": False}
    assert report["ready"] is False  # nothing started yet


def _agents(app: object) -> set[str]:
    return {a.name.rsplit(".", 1)[-1] for a in app.agents.values()}  # type: ignore[attr-defined]


def test_an_availability_only_worker_builds_no_sales_attendance_or_lastminute_state(tmp_path: Path) -> None:
    full = create_app(Settings.model_validate({"streams": {"data_dir": str(tmp_path / "a")}}),
                      registry=CollectorRegistry())
    only = create_app(Settings.model_validate({"streams": {"data_dir": str(tmp_path / "b"),
                                                           "domains": ["availability"]}}),
                      registry=CollectorRegistry())
    assert {"availability-state", "sales-state", "attendance-state"} <= set(full.app.tables)
    assert "availability-state" in only.app.tables
    assert not {"sales-state", "attendance-state"} & set(only.app.tables)
    assert _agents(only.app) == _agents(full.app)  # identity and facts agents all the same


def test_lastminute_without_availability_is_refused_with_what_to_do() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="add availability to streams.domains"):
        Settings.model_validate({"streams": {"domains": ["sales", "lastminute"]}})


def test_after_every_rebalance_the_worker_waits_for_the_identity_links_and_says_when_it_gave_up(
        tmp_path: Path, monkeypatch: Any, caplog: Any) -> None:
    import asyncio
    import logging

    from streams.app import CROSSWALK_CATCH_UP_S
    from streams.identity.reader import CrosswalkReader

    waited: list[float] = []

    async def read_to_now(self: CrosswalkReader, timeout: float) -> bool:
        waited.append(timeout)
        return False  # Kafka did not answer in time

    monkeypatch.setattr(CrosswalkReader, "read_to_now", read_to_now)
    built = create_app(Settings.model_validate({"streams": {"data_dir": str(tmp_path)}}),
                       registry=CollectorRegistry())
    with caplog.at_level(logging.WARNING, logger="streams"):
        asyncio.run(built.app.tables["identity-parked"].call_recover_callbacks())  # what recovery calls
    assert waited == [CROSSWALK_CATCH_UP_S]
    assert "streams resumed before the identity links were read to their end" in caplog.text


def test_the_worker_reads_ahead_a_quarter_of_faust_s_defaults(tmp_path: Path) -> None:
    built = create_app(Settings.model_validate({"streams": {"data_dir": str(tmp_path)}}),
                       registry=CollectorRegistry())
    # the read-ahead is memory the worker holds per partition and stream (bench.worker_memory)
    assert built.app.conf.stream_buffer_maxsize == 1024 < 4096
    assert built.app.conf.consumer_max_fetch_size == 256 * 1024 < 1024 * 1024


def test_every_agent_topic_hands_on_keys_and_values_as_the_bytes_that_came(tmp_path: Path) -> None:
    import asyncio

    from faust.types import Message

    from streams.context import RawSchema

    built = create_app(Settings.model_validate({"streams": {"data_dir": str(tmp_path)}}),
                       registry=CollectorRegistry())
    topics = [a.channel for a in built.app.agents.values()]
    assert topics and all(isinstance(t.schema, RawSchema) for t in topics)
    decode = topics[0].schema.compile(built.app)
    key, value = b"dip|NL-1|00001", bytes(range(256)) * 2  # Avro bodies are any bytes
    for k, v in ((key, value), (None, value), (key, b"")):
        message = Message(topic="t", partition=0, offset=1, timestamp=0.0, timestamp_type=0, headers=[],
                          key=k, value=v, checksum=None)
        event = asyncio.run(decode(message))
        assert event.key is k and event.value is v and event.message is message
