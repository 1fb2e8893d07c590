"""What a value of the contract may hold beyond what Avro itself checks.

fastavro reads and writes an ``int`` of any size and a ``timestamp-millis`` of any
year; other readers cannot (Java's Avro, a Python ``datetime``, ClickHouse
``DateTime64(3)``). :func:`contract_check` builds, once per schema, a check that every
``int`` fits 32 bits, every ``long`` 64, and every timestamp the window
:data:`TIME_MIN_MS`..:data:`TIME_MAX_MS`, the times every role can carry. The readers
and writers of ``bus.codec`` run it on every record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Protocol

from bus.errors import SerializationError
from schemas.models import TIMESTAMP_MAX, TIMESTAMP_MIN

__all__ = ["TIME_MAX_MS", "TIME_MIN_MS", "OutOfRangeError", "contract_check"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Earliest timestamp (epoch ms) a record may carry (``schemas.models.TIMESTAMP_MIN``).
TIME_MIN_MS = (TIMESTAMP_MIN - _EPOCH) // timedelta(milliseconds=1)
#: Latest timestamp (epoch ms) a record may carry (``schemas.models.TIMESTAMP_MAX``): the
#: end of ClickHouse's ``DateTime64(3)``; well inside what a ``datetime`` holds in any zone.
TIME_MAX_MS = (TIMESTAMP_MAX - _EPOCH) // timedelta(milliseconds=1)


class Check(Protocol):
    def __call__(self, value: Any, path: str = "") -> None: ...


class OutOfRangeError(SerializationError):
    """A decoded (or to be encoded) value lies outside what the contract's type can carry.

    Args:
        message: what is wrong and what to do.
        field: the field path, e.g. ``event_time`` or ``lines[2].tickets``.

    """

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def _iso(ms: int) -> str:
    try:
        return (_EPOCH + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds")
    except OverflowError:  # beyond datetime: the Gregorian calendar repeats every 400 years
        cycles, rest = divmod(ms // 86_400_000, 146_097)
        return f"year {(_EPOCH + timedelta(days=rest)).year + 400 * cycles}"


def _out_of_range(value: Any, bounds: _Bounds, path: str) -> OutOfRangeError:
    lo, hi, what = bounds
    if what == "timestamp":
        return OutOfRangeError(
            f"{path}: {value} ms ({_iso(value)}) is outside the times every role can carry "
            f"({_iso(lo)}..{_iso(hi)}); fix the time at the source and send the fact again", path)
    return OutOfRangeError(f"{path}: {value} does not fit an Avro {what} ({lo}..{hi}); fix the "
                           "value at the source and send the record again", path)


class _Bounds(NamedTuple):
    lo: int
    hi: int
    what: str


_TIME = _Bounds(TIME_MIN_MS, TIME_MAX_MS, "timestamp")
_INT = _Bounds(-(2**31), 2**31 - 1, "int")
_LONG = _Bounds(-(2**63), 2**63 - 1, "long")

#: What a schema compiles to: bounds of a scalar, a check of a composite value, or None.
_Spec = _Bounds | Check | None


def _join(path: str, field: str) -> str:
    return f"{path}.{field}" if path else field


def _as_check(spec: _Bounds | Check) -> Check:
    if not isinstance(spec, _Bounds):
        return spec

    def scalar(value: Any, path: str = "") -> None:
        if not spec.lo <= value <= spec.hi:
            raise _out_of_range(value, spec, path)
    return scalar


def _compile(schema: Any, named: dict[str, _Spec]) -> _Spec:
    """What to check in values of ``schema`` (None when nothing can be out of range)."""
    if isinstance(schema, str):
        return {"int": _INT, "long": _LONG}.get(schema, named.get(schema))
    if isinstance(schema, list):
        branches = [c for c in (_compile(s, named) for s in schema if s != "null") if c is not None]
        if not branches:
            return None
        if len(branches) == 1:
            return branches[0]  # None (a null branch) is never checked
        return _union(branches)
    kind = schema.get("type")
    if kind == "long" and schema.get("logicalType") == "timestamp-millis":
        return _TIME
    if kind == "record":
        return _record(schema, named)
    if kind in ("array", "map"):
        inner = _compile(schema["items" if kind == "array" else "values"], named)
        if inner is None:
            return None
        check = _as_check(inner)

        def each(value: Any, path: str = "") -> None:
            pairs = enumerate(value) if kind == "array" else value.items()
            for i, item in pairs:
                if item is not None:
                    check(item, f"{path}[{i!r}]")
        return each
    if kind in ("enum", "fixed"):
        return None
    return _compile(kind, named)


def _union(branches: list[_Bounds | Check]) -> Check:
    """A union of several checkable branches: ints against the widest int bounds, a dict
    against the one record branch (if there is exactly one)."""
    ints = [b for b in branches if isinstance(b, _Bounds)]
    widest = _as_check(max(ints, key=lambda b: b.hi)) if ints else None
    others = [b for b in branches if not isinstance(b, _Bounds)]

    def union(value: Any, path: str = "") -> None:
        if type(value) is int and widest is not None:
            widest(value, path)
        elif isinstance(value, dict) and len(others) == 1:
            others[0](value, path)
    return union


def _record(schema: Mapping[str, Any], named: dict[str, _Spec]) -> Check | None:
    name = str(schema.get("name", ""))
    full = f"{schema['namespace']}.{name}" if schema.get("namespace") and "." not in name else name
    named[name] = named[full] = None  # a recursive reference checks nothing further
    scalars: list[tuple[str, _Bounds]] = []
    nested: list[tuple[str, Check]] = []
    for f in schema.get("fields", []):
        spec = _compile(f["type"], named)
        if isinstance(spec, _Bounds):
            scalars.append((str(f["name"]), spec))
        elif spec is not None:
            nested.append((str(f["name"]), spec))
    if not scalars and not nested:
        return None
    record = _generated(name, scalars, nested)
    named[name] = named[full] = record
    return record


def _generated(name: str, scalars: list[tuple[str, _Bounds]], nested: list[tuple[str, Check]]) -> Check:
    """The check of one record type as straight-line Python (no loop, bounds as constants):
    it runs on every record the bus reads or writes, and a loop over the fields cost twice
    as much (measured). Only ints and ``repr`` of field names of our own contract files are
    put in the source; the nested checks are passed in."""
    names: dict[str, Any] = {"_fail": _fail, "_bounds": [b for _, b in scalars]}
    lines = ["def record(value, path=''):", "    get = value.get  # a record to be written may omit defaults"]
    for i, (field, bounds) in enumerate(scalars):
        lines += [f"    v = get({field!r})",
                  f"    if v is not None and not {int(bounds.lo)} <= v <= {int(bounds.hi)}:",
                  f"        _fail(v, _bounds[{i}], path, {field!r})"]
    for j, (field, check) in enumerate(nested):
        names[f"_nested{j}"] = check
        lines += [f"    v = get({field!r})",
                  "    if v is not None:",
                  f"        _nested{j}(v, path + {'.' + field!r} if path else {field!r})"]
    exec(compile("\n".join(lines), f"<range check of {name}>", "exec"), names)  # noqa: S102 - see above
    return names["record"]  # type: ignore[no-any-return]


def _fail(value: Any, bounds: _Bounds, path: str, field: str) -> None:
    raise _out_of_range(value, bounds, _join(path, field))


def contract_check(schema: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], None]:
    """A function that raises :class:`OutOfRangeError` for a record (as fastavro reads it
    with int-ms timestamps, or as it would be written) with a value its type cannot carry."""
    spec = _compile(dict(schema), {})
    if spec is None:
        return lambda record: None
    return _as_check(spec)
