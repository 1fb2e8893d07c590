"""Fixtures the connector unit tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.fakes.webhooks import FakeEventbriteApi


@pytest.fixture()
def api() -> Iterator[FakeEventbriteApi]:
    """A fake Eventbrite API on loopback (the receiver fetches what a delivery points at)."""
    with FakeEventbriteApi() as fake:
        yield fake
