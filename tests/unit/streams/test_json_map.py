"""The identity tables (``StreamsContext.table``): the bytes Faust's JSON table wrote, written
through the outbox with the batch instead of one Faust changelog message per write."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import faust
import pytest
from prometheus_client import CollectorRegistry

from bus.settings import Settings
from streams.app import create_app
from streams.context import in_partition_of
from streams.faust_hooks import partition_db
from streams.store import JsonMap

KEY = "d|2026-12-07|dip|production|é 1"
VALUE = {"keys": ["dip|production|1"], "f": "AAEC" * 40, "n": 3, "t": None, "ok": True, "x": 1.5}


def _faust_json_store() -> Any:
    """The store of a Faust table with JSON keys and values, as the identity tables were before."""
    app = faust.App("json-map-test", store="memory://")
    return app.Table("t", default=None, schema=faust.Schema(
        key_type=str, key_serializer="json", value_serializer="json")).data


class _Event:
    """An agent's event as the tables read it (its message's partition); Faust keeps a weak reference."""

    def __init__(self, partition: int) -> None:
        self.message = types.SimpleNamespace(partition=partition)


_EVENTS = {p: _Event(p) for p in range(4)}


def _event(partition: int) -> Any:
    return _EVENTS[partition]


@pytest.fixture()
def built(tmp_path: Path) -> Any:
    return create_app(Settings.model_validate({"streams": {"data_dir": str(tmp_path)}}),
                      registry=CollectorRegistry())


def _queued(built: Any, table: str) -> list[tuple[int, bytes | None, bytes | None]]:
    """The changelog records of ``table`` the outbox holds for the next flush: (partition, key, value)."""
    return [(partition, key, value) for (topic, partition), records in built.ctx.outbox._groups.items()
            if topic.endswith(f"{table}-changelog") for key, value, _ in records]


def test_a_write_stores_and_queues_the_bytes_faust_s_json_table_wrote(built: Any) -> None:
    match = built.ctx.table("identity-match-probe", help="probe")
    assert isinstance(match, JsonMap)
    old = _faust_json_store()
    in_partition_of(_event(3))
    match[KEY] = VALUE
    stored = partition_db(match.raw.table, 3).get(old._encode_key(KEY))
    assert stored == old._encode_value(VALUE)  # a state Faust's table wrote reads the same
    assert _queued(built, "identity-match-probe") == [(3, old._encode_key(KEY), old._encode_value(VALUE))]
    assert match[KEY] == VALUE and match.get(KEY) == VALUE and KEY in match


def test_a_missing_key_and_a_delete_behave_as_a_dict_and_the_delete_is_a_tombstone(built: Any) -> None:
    parked = built.ctx.table("identity-parked-probe", help="probe")
    in_partition_of(_event(0))
    assert parked.get("nope") is None and parked.get("nope", 7) == 7 and "nope" not in parked
    with pytest.raises(KeyError):
        parked["nope"]
    with pytest.raises(KeyError):
        del parked["nope"]
    parked["k"] = [1, 2]
    del parked["k"]
    assert "k" not in parked and parked.get("k") is None
    assert _queued(built, "identity-parked-probe")[-1] == (0, b'"k"', None)


def test_a_key_written_in_one_partition_is_not_read_from_another(built: Any) -> None:
    routed = built.ctx.table("identity-routed-probe", help="probe")
    in_partition_of(_event(1))
    routed["i:a"] = {"n": 1}
    in_partition_of(_event(2))
    assert routed.get("i:a") is None  # every key of a performance lives in its facts' partition
    in_partition_of(_event(1))
    assert routed["i:a"] == {"n": 1}


def test_the_identity_tables_are_written_through_the_outbox(built: Any) -> None:
    for name in ("identity-parked", "identity-routed", "identity-match", "identity-venues"):
        table = built.app.tables[name]
        assert table.data.key_serializer == "raw" and table.data.value_serializer == "raw", name
