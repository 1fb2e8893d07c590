"""The worker checks at start-up that every Faust and aiokafka internal it hooks into exists."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import aiokafka
import faust.streams
import pytest
from faust.transport.producer import ProducerBuffer

from bus.errors import ConfigError
from bus.settings import Settings
from streams import faust_hooks
from streams.faust_hooks import HOOKS, PINNED, check_hooks
from streams.worker import run_worker

REPO = Path(__file__).resolve().parents[3]


def unreachable(tmp_path: Path) -> Settings:
    return Settings.model_validate({"kafka": {"bootstrap_servers": "127.0.0.1:1"},
                                    "registry": {"url": "http://127.0.0.1:1"},
                                    "streams": {"data_dir": str(tmp_path)}})


def test_every_hooked_attribute_exists_in_the_installed_versions() -> None:
    check_hooks()
    assert {h.package for h in HOOKS} == set(PINNED)


def test_the_pins_checked_are_the_pins_of_the_project() -> None:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = {m.group(1): m.group(2) for d in deps if (m := re.fullmatch(r"([\w-]+)(?:\[\w+\])?==([\w.]+)", d))}
    assert {p: pins.get(p) for p in PINNED} == PINNED


def test_a_worker_refuses_to_start_when_faust_lost_a_hooked_attribute(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delattr(ProducerBuffer, "max_messages")
    with pytest.raises(ConfigError) as caught:
        run_worker(unreachable(tmp_path))  # refused before it looks for Kafka
    message = str(caught.value)
    assert "faust.transport.producer.ProducerBuffer.max_messages" in message
    assert "faust-streaming 0.15.3 (pinned 0.15.3)" in message and "aiokafka 0.14.0 (pinned 0.14.0)" in message
    assert "'faust-streaming[rocksdict]==0.15.3' 'aiokafka==0.14.0'" in message
    assert not (tmp_path / "w1").exists()  # nothing was built


def test_the_error_names_the_upgrade_that_removed_the_current_event_variable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(faust.streams, "_current_event")
    monkeypatch.setattr(faust_hooks, "installed", lambda p: "0.16.0" if p == "faust-streaming" else PINNED[p])
    with pytest.raises(ConfigError, match=r"faust\.streams\._current_event \(table access in a take_events "
                                          r"batch \(faust#497\)\) is gone: broken by the upgrade of "
                                          r"faust-streaming from 0\.15\.3 to 0\.16\.0"):
        check_hooks()


def test_a_consumer_that_no_longer_reads_its_fetch_settings_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    async def start(self: Any) -> None:
        return None  # an aiokafka whose fetcher no longer takes _fetch_min_bytes

    monkeypatch.setattr(aiokafka.AIOKafkaConsumer, "start", start)
    with pytest.raises(ConfigError) as caught:
        check_hooks()
    assert "aiokafka.AIOKafkaConsumer._fetch_min_bytes (fetch tuning) is gone" in str(caught.value)
    assert "aiokafka.AIOKafkaConsumer._fetch_max_wait_ms (fetch tuning) is gone" in str(caught.value)
    assert "ProducerBuffer" not in str(caught.value)
