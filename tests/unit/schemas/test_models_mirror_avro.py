"""The pydantic models and the Avro schemas must agree field by field."""

from __future__ import annotations

import types
import typing
from datetime import datetime
from enum import Enum
from typing import Any

import fastavro
import pytest
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from schemas import MODELS, load_schema, schema_files
from schemas.models import AvroModel


def _strip_annotated(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _split_optional(tp: Any) -> tuple[Any, bool]:
    tp = _strip_annotated(tp)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        assert len(args) == 1, f"only Optional[X] unions are mirrored, got {tp}"
        return _strip_annotated(args[0]), True
    return tp, False


def _avro_nullable(avro_type: Any) -> tuple[Any, bool]:
    if isinstance(avro_type, list):
        rest = [t for t in avro_type if t != "null"]
        assert len(rest) == 1, f"only [null, X] unions are mirrored, got {avro_type}"
        return rest[0], "null" in avro_type
    return avro_type, False


def _assert_same_type(py: Any, avro: Any, where: str, named: dict[str, Any]) -> None:
    if isinstance(avro, str) and avro in named:
        avro = named[avro]
    if isinstance(avro, dict) and avro.get("logicalType") == "timestamp-millis":
        assert py is datetime or getattr(py, "__name__", "") == "AwareDatetime" or (
            isinstance(py, type) and issubclass(py, datetime)
        ), f"{where}: avro timestamp-millis but model has {py}"
        return
    if isinstance(avro, dict) and avro["type"] == "enum":
        named[avro["name"]] = avro
        named[f"{avro.get('namespace', '')}.{avro['name']}"] = avro
        assert isinstance(py, type) and issubclass(py, Enum), f"{where}: avro enum, model {py}"
        assert [e.value for e in py] == avro["symbols"], f"{where}: enum symbols differ"
        return
    if isinstance(avro, dict) and avro["type"] == "array":
        assert typing.get_origin(py) is list, f"{where}: avro array, model {py}"
        _assert_same_type(typing.get_args(py)[0], avro["items"], f"{where}[]", named)
        return
    if isinstance(avro, dict) and avro["type"] == "record":
        named[avro["name"]] = avro
        named[f"{avro.get('namespace', '')}.{avro['name']}"] = avro
        assert isinstance(py, type) and issubclass(py, BaseModel), f"{where}: record vs {py}"
        _assert_record(py, avro, where, named)
        return
    expected = {"string": str, "int": int, "long": int, "boolean": bool, "double": float}
    assert expected[avro] is py, f"{where}: avro {avro} but model has {py}"


def _assert_record(model: type[BaseModel], schema: dict[str, Any], where: str,
                   named: dict[str, Any]) -> None:
    avro_fields = [f["name"] for f in schema["fields"]]
    model_fields = list(model.model_fields)
    assert sorted(avro_fields) == sorted(model_fields), (
        f"{where}: fields differ: only in avro {set(avro_fields) - set(model_fields)}, "
        f"only in model {set(model_fields) - set(avro_fields)}"
    )
    hints = typing.get_type_hints(model, include_extras=True)
    for f in schema["fields"]:
        name = f["name"]
        info = model.model_fields[name]
        py, py_nullable = _split_optional(hints[name])
        avro, avro_nullable = _avro_nullable(f["type"])
        assert py_nullable == avro_nullable, f"{where}.{name}: nullability differs"
        _assert_same_type(py, avro, f"{where}.{name}", named)
        avro_has_default = "default" in f
        model_default = info.default
        if info.default_factory is not None:
            model_default = info.default_factory()  # type: ignore[call-arg]
        model_has_default = model_default is not PydanticUndefined
        assert avro_has_default == model_has_default, f"{where}.{name}: default presence differs"
        if avro_has_default:
            value = model_default.value if isinstance(model_default, Enum) else model_default
            assert value == f["default"], f"{where}.{name}: default {value!r} != {f['default']!r}"
        assert f.get("doc"), f"{where}.{name}: avro field has no doc"


@pytest.mark.parametrize("schema_file", schema_files())
def test_every_schema_has_a_mirroring_model_that_agrees_field_by_field(schema_file: str) -> None:
    schema = load_schema(schema_file)
    fastavro.parse_schema(schema)
    assert schema.get("namespace", "").startswith("org.cultuurbus."), "namespace missing"
    assert schema.get("doc"), "top-level doc missing"
    model = MODELS[schema_file]
    _assert_record(model, schema, schema_file, {})


def test_every_model_names_an_existing_schema() -> None:
    assert set(MODELS) == set(schema_files())
    assert all(issubclass(m, AvroModel) for m in MODELS.values())


def test_the_mirror_check_catches_a_renamed_field() -> None:
    schema = load_schema("attendance.avsc")
    schema["fields"][1]["name"] = "scans"
    with pytest.raises(AssertionError, match="fields differ"):
        _assert_record(MODELS["attendance.avsc"], schema, "attendance", {})


def test_the_mirror_check_catches_a_changed_default() -> None:
    schema = load_schema("ticket_event.avsc")
    for f in schema["fields"]:
        if f["name"] == "currency":
            f["default"] = "USD"
    with pytest.raises(AssertionError, match="default"):
        _assert_record(MODELS["ticket_event.avsc"], schema, "ticket_event", {})
