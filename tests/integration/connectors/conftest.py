"""Fixtures the connector integration tests share."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from bus.settings import Settings
from connectors.sdk.context import ConnectorContext


@pytest.fixture
def context(topics: Settings) -> Iterator[ConnectorContext]:
    """An open connector context (publisher, positions) of a fresh name; closed afterwards."""
    ctx = ConnectorContext(topics, f"conn-{uuid.uuid4().hex[:6]}", serve_metrics=False).open()
    yield ctx
    ctx.close()
