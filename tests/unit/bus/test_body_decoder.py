"""``bus.codec.body_decoder``: the compiled decoder (cavro) the ClickHouse sink reads with
gives what fastavro gives, for every contract, resolved or not, and bad bytes are an
exception, never a crash or a made-up record."""

from __future__ import annotations

import copy
import io
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bus.codec import body_decoder, without_logical_types
from schemas import load_schema

CONTRACTS = ["ticket_event.avsc", "sales_snapshot.avsc", "performance.avsc", "availability.avsc",
             "attendance.avsc", "sales_window.avsc", "lastminute_offer.avsc", "identity_link.avsc",
             "venue_link.avsc"]

_PRIMITIVE = {
    "null": st.none(),
    "boolean": st.booleans(),
    "int": st.integers(-(2**31), 2**31 - 1),
    "long": st.integers(-(2**63), 2**63 - 1),
    "double": st.floats(allow_nan=False),
    "float": st.floats(width=32, allow_nan=False),
    "string": st.text(max_size=20),
    "bytes": st.binary(max_size=20),
}


def values(schema: Any, named: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Any value ``schema`` (plain JSON form, logical types removed) can carry."""
    if isinstance(schema, str):
        return _PRIMITIVE[schema] if schema in _PRIMITIVE else named[schema.rsplit(".", 1)[-1]]
    if isinstance(schema, list):
        return st.one_of(*(values(s, named) for s in schema))
    kind = schema["type"]
    if kind == "record":
        fields = {}
        strategy = st.deferred(lambda: st.fixed_dictionaries(fields))
        named[schema["name"]] = strategy
        for f in schema["fields"]:
            fields[f["name"]] = values(f["type"], named)
        return strategy
    if kind == "enum":
        named[schema["name"]] = st.sampled_from(schema["symbols"])
        return named[schema["name"]]
    if kind == "array":
        return st.lists(values(schema["items"], named), max_size=3)
    if kind == "map":
        return st.dictionaries(st.text(max_size=5), values(schema["values"], named), max_size=3)
    return values(kind, named)


def body(schema: Any, record: Any) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return out.getvalue()


def fastavro_read(writer: Any, data: bytes, reader: Any = None) -> Any:
    return fastavro.schemaless_reader(io.BytesIO(data), fastavro.parse_schema(writer),
                                      None if reader is None else fastavro.parse_schema(reader))


@pytest.mark.parametrize("contract", CONTRACTS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_contract_decodes_as_fastavro_decodes_it(contract: str, data: st.DataObject) -> None:
    schema = without_logical_types(load_schema(contract))
    record = data.draw(values(schema, {}))
    raw = body(schema, record)
    got = body_decoder(load_schema(contract), None, compiled=True)(raw)
    assert got == fastavro_read(schema, raw) == record
    assert type(got) is dict


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_an_older_writer_is_resolved_into_the_contract_as_fastavro_resolves_it(data: st.DataObject) -> None:
    """The contract gained fields with defaults (and an enum symbol) after the writer's schema."""
    contract = load_schema("availability.avsc")
    old = copy.deepcopy(contract)
    defaults = [f["name"] for f in contract["fields"] if "default" in f]
    assert defaults, "the contract has fields with defaults"
    old["fields"] = [f for f in old["fields"] if "default" not in f]
    old_plain = without_logical_types(old)
    record = data.draw(values(old_plain, {}))
    raw = body(old_plain, record)
    got = body_decoder(old, contract, compiled=True)(raw)
    assert got == fastavro_read(old_plain, raw, without_logical_types(contract))
    assert {name: got[name] for name in record} == record
    assert all(name in got for name in defaults)


def test_a_writer_that_does_not_resolve_fails_as_fastavro_fails_when_read() -> None:
    writer, reader = load_schema("ticket_event.avsc"), load_schema("availability.avsc")
    decode = body_decoder(writer, reader, compiled=True)  # building it does not raise
    with pytest.raises(fastavro.read.SchemaResolutionError):
        decode(b"\x00" * 40)


def test_a_long_writer_does_not_resolve_into_an_int_contract_though_ints_are_read_as_longs() -> None:
    """Avro does not promote long to int; reading ints as longs must not make it resolve."""
    contract = load_schema("sales_window.avsc")
    writer = copy.deepcopy(contract)
    for f in writer["fields"]:
        if f["type"] == "int":
            f["type"] = "long"
    decode = body_decoder(writer, contract, compiled=True)
    with pytest.raises(fastavro.read.SchemaResolutionError):
        decode(b"\x00" * 40)


def test_a_schema_cavro_refuses_is_read_with_fastavro() -> None:
    """A writer schema registered by someone else, legal to fastavro (a union naming null
    twice), still decodes: the sink must not dead-letter a topic cavro's parser dislikes."""
    schema = {"type": "record", "name": "Odd", "fields": [{"name": "a", "type": ["null", "int", "null"]},
                                                         {"name": "b", "type": "string"}]}
    raw = body(schema, {"a": 7, "b": "x"})
    assert body_decoder(schema, None, compiled=True)(raw) == {"a": 7, "b": "x"}


def test_compiled_means_cavro_and_the_default_fastavro() -> None:
    """The sink asks for cavro; the worker (no numpy loaded) does not get it by default."""
    contract = load_schema("sales_window.avsc")
    assert type(getattr(body_decoder(contract, None, compiled=True), "__self__", None)).__module__ == "cavro"
    assert getattr(body_decoder(contract), "__self__", None) is None


_TICKET = {"fact_id": "eventix:acme:1", "event_type": "SOLD", "event_time": 1_770_000_000_000,
           "ingested_at": 1_770_000_000_100, "source_system": "eventix", "source_account": "acme",
           "performance_key": "vendor:eventix:acme:ev-1",
           "identifiers": [{"namespace": "dip", "value": "NL-23-1234-5|1"}], "quantity": 2,
           "ticket_type": "NORMAL", "price_cents": 2500, "currency": "EUR", "order_id": "o-1",
           "ticket_ids": ["t1", "t2"], "channel": "web",
           "buyer": {"id_hash": "a" * 64, "postcode_area": "1012", "country": "NL", "birth_year": 1980}}


@settings(max_examples=400, deadline=None)
@given(cut=st.integers(0, 200), pos=st.integers(0, 300), junk=st.binary(min_size=1, max_size=8))
def test_mangled_bytes_raise_an_exception_and_never_crash(cut: int, pos: int, junk: bytes) -> None:
    """Truncated, overwritten or padded facts: an ``Exception`` (the reader turns it into a
    dead letter), or a record - never a crash of the process."""
    schema = without_logical_types(load_schema("ticket_event.avsc"))
    good = body(schema, _TICKET)
    decode = body_decoder(load_schema("ticket_event.avsc"), None, compiled=True)
    assert decode(good) == _TICKET
    if cut < len(good):
        with pytest.raises(Exception):  # noqa: B017, PT011 - a prefix of a record never decodes
            decode(good[:cut])
    for mangled in (good[:pos] + junk + good[pos + len(junk):], good[:pos] + junk):
        try:
            decode(mangled)
        except Exception:  # noqa: BLE001, S112 - any exception is the expected outcome
            continue


@settings(max_examples=100, deadline=None)
@given(value=st.integers(-(2**63), 2**63 - 1))
def test_an_int_beyond_32_bits_is_read_as_sent_so_the_range_check_sees_it(value: int) -> None:
    """A broken producer writes a 64-bit value where the contract has an ``int`` (the same
    varint on the wire). cavro on its own keeps the low 32 bits: quantity 2**40 would be
    stored as 256. Read as a long, the value is the one sent, and the readers' range check
    (``bus.ranges``) refuses it."""
    contract = load_schema("sales_window.avsc")  # tickets: int
    as_sent = copy.deepcopy(without_logical_types(contract))
    for f in as_sent["fields"]:
        if f["type"] == "int":
            f["type"] = "long"
    record = {"performance_id": "p", "granularity": "DAY", "window_start": 0, "ticket_type": "NORMAL",
              "channel": "web", "tickets": value, "revenue_cents": 1, "days_before_show": None,
              "updated_at": 0}
    raw = body(as_sent, record)
    assert body_decoder(contract, None, compiled=True)(raw)["tickets"] == value
    assert body_decoder(contract, contract, compiled=True)(raw)["tickets"] == value
