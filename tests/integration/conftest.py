from __future__ import annotations

import uuid

import pytest

from bus.kafka import make_admin
from bus.serde import Registry
from bus.settings import Settings
from bus.topics import apply_catalog


@pytest.fixture(scope="session")
def bus_settings(stack) -> Settings:  # type: ignore[no-untyped-def]
    """Bus settings pointed at the test stack, with a topic prefix of this session."""
    return Settings(
        kafka={"bootstrap_servers": stack.kafka_bootstrap, "client_id": "cultuurbus-test"},
        registry={"url": stack.registry_url},
        clickhouse={"url": stack.clickhouse_url},
        topic_prefix=f"t{uuid.uuid4().hex[:6]}.",
    )


@pytest.fixture(scope="session")
def topics(bus_settings: Settings) -> Settings:
    """The catalog applied under the session's prefix."""
    apply_catalog(make_admin(bus_settings.kafka), bus_settings.topic_prefix)
    return bus_settings


@pytest.fixture(scope="session")
def registry(bus_settings: Settings) -> Registry:
    return Registry(bus_settings.registry)
