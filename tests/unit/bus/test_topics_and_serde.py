from __future__ import annotations

import json
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, Counter

from bus.errors import SerializationError
from bus.metrics import Health, MetricsServer
from bus.serde import decode_header
from bus.topics import CATALOG, PARTITIONS, dlq_of, spec
from schemas import schema_files


def test_every_fact_and_state_topic_has_a_dlq_twin() -> None:
    names = {t.name for t in CATALOG}
    for t in CATALOG:
        if t.value_schema or t.name in ("participation.facts", "participation.unmatched"):
            assert dlq_of(t.name) in names, t.name


def test_keyed_topics_are_co_partitioned() -> None:
    keyed = [t for t in CATALOG if t.value_schema or t.name in (
        "participation.facts", "participation.unmatched", "streams.release")]
    assert {t.partitions for t in keyed} == {PARTITIONS}


def test_every_value_schema_exists_and_state_topics_are_compacted() -> None:
    for t in CATALOG:
        if t.value_schema:
            assert t.value_schema in schema_files()
    for name in ("participation.availability", "participation.identity",
                 "participation.lastminute", "participation.attendance"):
        assert spec(name).cleanup_policy == "compact"


@pytest.mark.parametrize("data,match", [(b"", "too short"), (b"\x01\x00\x00\x00\x01x", "magic")])
def test_decode_header_explains_bad_bytes(data: bytes, match: str) -> None:
    with pytest.raises(SerializationError, match=match):
        decode_header(data)


def test_metrics_server_tells_live_from_ready() -> None:
    reg = CollectorRegistry()
    Counter("cultuurbus_test_records", "x", registry=reg).inc(3)
    ready = {"v": False}
    health = Health()
    health.add_check("kafka", lambda: ready["v"])
    srv = MetricsServer(reg, port=0, health=health).start()
    try:
        base = f"http://127.0.0.1:{srv.port}"
        body = urllib.request.urlopen(base + "/metrics").read().decode()
        assert "cultuurbus_test_records_total 3.0" in body
        assert urllib.request.urlopen(base + "/healthz/live").status == 200
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base + "/healthz")
        assert err.value.code == 503
        assert json.loads(err.value.read())["checks"] == {"kafka": False}
        ready["v"] = True
        assert urllib.request.urlopen(base + "/healthz").status == 200
    finally:
        srv.close()
