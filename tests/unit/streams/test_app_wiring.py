"""What the worker built by ``streams.app`` serves about its crosswalk reader."""

from __future__ import annotations

from pathlib import Path

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
