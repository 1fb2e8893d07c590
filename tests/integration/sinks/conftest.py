"""Fixtures the sink and gateway integration tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bus.settings import Settings
from tests.support.clickhouse import drop_database


@pytest.fixture
def cleanup() -> Iterator[list[Settings]]:
    """Databases (by settings) this test made on the shared server; dropped afterwards."""
    made: list[Settings] = []
    yield made
    for s in made:
        drop_database(s)
