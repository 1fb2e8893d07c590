"""examples/subscribe_availability.py runs against the real stack and prints changes."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from bus.kafka import kafka_env, make_producer
from bus.serde import AvroSerializer, Registry
from bus.settings import Settings
from bus.topics import AVAILABILITY
from schemas.models import Availability, AvailabilityStatus, utcnow

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "subscribe_availability.py"


def test_example_prints_changes_and_tombstones(topics: Settings, registry: Registry) -> None:
    topic = topics.topic_prefix + AVAILABILITY
    ser = AvroSerializer(registry, topic, "availability.avsc")
    producer = make_producer(topics.kafka)
    pid = f"dip|NL-EXAMPLE-{uuid.uuid4().hex[:6]}|1"
    now = utcnow()
    for version, remaining in ((1, 12), (2, 11)):
        rec = Availability(performance_id=pid, capacity=300, sold=300 - remaining, remaining=remaining,
                           status=AvailabilityStatus.AVAILABLE, title="Example", venue_name="Example Hall",
                           city="Leiden", start=now + timedelta(hours=4), updated_at=now, version=version)
        producer.produce(topic, key=pid.encode(), value=ser(rec))
    producer.produce(topic, key=pid.encode(), value=None)
    assert producer.flush(30) == 0

    env = {**os.environ,
           "PYTHONPATH": str(REPO),
           **kafka_env(topics.kafka),  # the example app reads as the test observer
           "CULTUURBUS_REGISTRY__BASIC_AUTH_USER_INFO": (topics.registry.basic_auth_user_info
                                                         or SecretStr("")).get_secret_value(),
           "CULTUURBUS_REGISTRY__URL": topics.registry.url,
           "CULTUURBUS_TOPIC_PREFIX": topics.topic_prefix,
           "CULTUURBUS_CONFIG_FILE": str(REPO / "does-not-exist.toml")}
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), "--group", f"test-example-{uuid.uuid4().hex[:6]}", "--idle-exit", "5"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    mine = [line for line in proc.stdout.splitlines() if line.startswith(pid)]
    assert len(mine) == 3, proc.stdout + proc.stderr
    assert "12/300 left" in mine[0] and "v1" in mine[0]
    assert "11/300 left" in mine[1] and "v2" in mine[1]
    assert mine[2].endswith("removed")
