from __future__ import annotations

import uuid

import pytest

from bus.kafka import make_admin
from bus.serde import Registry
from bus.settings import Settings
from bus.topics import apply_catalog
from ops.access.principals import apply_role_access
from ops.stack.settings import ADMIN
from tests.support.pseudonyms import TEST_BUYER_SECRET


@pytest.fixture(scope="session")
def bus_settings(stack) -> Settings:  # type: ignore[no-untyped-def]
    """Bus settings pointed at the test stack, with a topic prefix of this session.

    They connect as ``admin``, a super user: the test observer seeds and reads any topic.
    A role the tests start as a subprocess connects as its own principal instead
    (``stack.client_env(principal)``).
    """
    kafka = stack.kafka_client(ADMIN).model_copy(update={"client_id": "cultuurbus-test"})
    return Settings(
        kafka=kafka,
        registry=stack.registry_client(ADMIN),
        clickhouse={"url": stack.clickhouse_url},
        connector={"buyer_secret": TEST_BUYER_SECRET},
        topic_prefix=f"t{uuid.uuid4().hex[:6]}.",
    )


def with_topics(settings: Settings) -> Settings:
    """The catalog applied under ``settings``' prefix, and the role principals' ACLs for it."""
    admin = make_admin(settings.kafka)
    apply_catalog(admin, settings.topic_prefix)
    apply_role_access(admin, settings.topic_prefix, settings)
    return settings


def fresh_prefix(settings: Settings) -> Settings:
    """``settings`` under a prefix of their own (for a test that reads whole topics)."""
    return settings.model_copy(update={"topic_prefix": f"t{uuid.uuid4().hex[:6]}."})


@pytest.fixture(scope="session")
def topics(bus_settings: Settings) -> Settings:
    """The catalog applied under the session's prefix, and the role principals' ACLs for it."""
    return with_topics(bus_settings)


@pytest.fixture(scope="session")
def registry(bus_settings: Settings) -> Registry:
    return Registry(bus_settings.registry)
