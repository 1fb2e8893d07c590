"""What every property-based test of a mapping shares: one Hypothesis profile, the
edge values hostile input is made of, and the contract's encoder that proves a fact
acknowledged is a fact every reader can take.

Profile ``connectors-properties``: ``deadline=None``, ``max_examples=200``,
``derandomize=True`` (reproducible in CI), no example database.
"""

from __future__ import annotations

import io
from typing import Any

import fastavro
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from schemas import load_schema
from schemas.models import AvroModel

__all__ = ["EDGE_INTS", "EDGE_TIMES", "PROFILE", "encode", "hostile_json", "scalars"]

settings.register_profile(
    "connectors-properties", deadline=None, max_examples=200, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much])
PROFILE = settings.get_profile("connectors-properties")

#: Times at and past the edges of Python's datetime, Avro and ClickHouse, and ordinary ones.
EDGE_TIMES = ["0001-01-01T00:00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59",
              "9999-12-31T23:59:59-12:00", "9999-12-31", "0001-01-01", "1969-12-31T23:59:59Z",
              "1900-01-01 00:00:00", "2025-02-03 14:30:00", "2025-02-03T14:30:00.123456+01:00",
              "2025-04-10T20:00:00+02:00", "2999-12-31T23:59:59Z", "3000-01-01T00:00:00Z", ""]
#: Integers past 32 and 64 bits, and the small ones that break counts.
EDGE_INTS = [2**70, -(2**70), 2**63, 2**63 - 1, 2**31, 2**31 - 1, -1, 0]


def scalars(edge_text: list[str]) -> st.SearchStrategy[Any]:
    """Any JSON scalar, edge integers and times, and the caller's edge texts."""
    return st.one_of(
        st.none(), st.booleans(), st.integers(), st.sampled_from(EDGE_INTS),
        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
        st.sampled_from(edge_text), st.sampled_from(EDGE_TIMES))


def hostile_json(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Arbitrary JSON documents built from ``leaves``."""
    return st.recursive(leaves, lambda c: st.lists(c, max_size=4)
                        | st.dictionaries(st.text(max_size=10), c, max_size=4), max_leaves=20)


_PARSED: dict[str, Any] = {}


def encode(value: AvroModel) -> bytes:
    """The fact as the Avro contract writes it (fails when the contract cannot carry it)."""
    name = value.__avro_schema__
    if name not in _PARSED:
        _PARSED[name] = fastavro.parse_schema(load_schema(name))
    record = value.to_avro()
    fastavro.validation.validate(record, _PARSED[name], raise_errors=True)
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, _PARSED[name], record)
    return buf.getvalue()
