"""The worker learns which Kafka cluster it runs on, to tell stale local state apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from bus.errors import ConfigError
from bus.settings import Settings
from streams.worker import check_state_origin, cluster_id

pytestmark = pytest.mark.integration


def test_state_written_against_another_cluster_is_refused_on_the_real_broker(
        bus_settings: Settings, tmp_path: Path) -> None:
    here = cluster_id(bus_settings)
    assert here and cluster_id(bus_settings) == here
    state = tmp_path / "w1"
    check_state_origin(state, "an-old-stack")
    with pytest.raises(ConfigError, match="another Kafka cluster"):
        check_state_origin(state, here)
