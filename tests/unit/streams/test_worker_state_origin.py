"""A worker whose state directory outlived its Kafka cluster says what to delete."""

from __future__ import annotations

from pathlib import Path

import pytest

from bus.errors import ConfigError
from streams.worker import CLUSTER, check_state_origin


def test_state_from_another_cluster_is_refused_naming_the_directory_to_delete(tmp_path: Path) -> None:
    state = tmp_path / "streams" / "w1"
    check_state_origin(state, "cluster-of-yesterday")
    (state / "tables.db").mkdir()
    with pytest.raises(ConfigError, match=f"rm -rf {state}.*CULTUURBUS_STREAMS__DATA_DIR"):
        check_state_origin(state, "fresh-stack-cluster")
    assert (state / "tables.db").exists(), "nothing is deleted behind the operator's back"


def test_state_of_the_same_cluster_is_kept_and_a_new_directory_records_its_cluster(tmp_path: Path) -> None:
    state = tmp_path / "w1"
    check_state_origin(state, "c1")
    check_state_origin(state, "c1")
    assert (state / CLUSTER).read_text().strip() == "c1"
