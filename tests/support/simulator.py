"""A simulated season for the simulator's unit tests: one fixed ``NOW`` and seed, and the
module-scoped fixtures ``season`` and ``env`` (the drivers' environment over it) a test
module takes with ``season, env = season_fixtures(...)``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bus.settings import Settings
from connectors.simulator.drivers.base import Env
from connectors.simulator.model import Season
from connectors.simulator.season import build_season

__all__ = ["NOW", "SEED", "season_fixtures"]

NOW = datetime(2025, 11, 14, 15, 30, tzinfo=UTC)
SEED = 42


def season_fixtures(*, venues: int, productions: int, performances: int, identifiers: str) -> tuple[Any, Any]:
    """The fixtures ``season`` (seed ``SEED`` up to ``NOW``, of this size and identifier
    mode) and ``env`` (default settings over it), both built once per test module."""

    @pytest.fixture(scope="module", name="season")
    def season_fixture() -> Season:
        return build_season(SEED, venues=venues, productions=productions, performances=performances,
                            now=NOW, identifiers=identifiers)

    @pytest.fixture(scope="module", name="env")
    def env_fixture(season: Season) -> Env:
        return Env(Settings(), season)

    return season_fixture, env_fixture
