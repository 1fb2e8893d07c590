"""Reading a JSON body from an untrusted sender: every failure is a clear ``BadJson``.

``json.loads`` alone lets hostile bodies through as the wrong errors: 10,000 nested
brackets raise ``RecursionError`` (a 500 before), a 5,000-digit number a ``ValueError``
about Python's integer limit, and ``NaN``/``Infinity`` are accepted although JSON has
no such values. Nesting is bounded (``max_depth``), checked after parsing in linear time,
and only for a body with more opening brackets than that (no other body can nest deeper).
JSON may also spell a lone UTF-16 surrogate (backslash ``ud800``), which Python decodes
into a string that cannot be written as UTF-8: a fact carrying it would be acknowledged
and then fail to serialise. Receivers, which answer for a whole body, refuse such a body
(``text_only=True``); pollers read it and name the field of the one item that holds it.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from connectors.sdk.errors import MappingError

__all__ = ["MAX_DEPTH", "BadJson", "load_json"]

#: Deeper than any vendor's document (Eventix orders are ~5 levels).
MAX_DEPTH = 64
#: Only bodies that spell a surrogate escape are walked for lone surrogates.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class BadJson(MappingError):
    """The body is not JSON this bus reads (answered 400, dead-lettered)."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message, field="body")


def _constant(name: str) -> Any:
    raise BadJson(f"body is not valid JSON: {name} is not a JSON number; send numbers as digits")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadJson(f"body is not valid for this bus: the number {text[:40]} is too large to "
                      "carry; numbers must fit the contract (64-bit)")
    return value


#: One decoder for every body (``json.loads`` with hooks builds a new one per call).
_DECODER = json.JSONDecoder(parse_constant=_constant, parse_float=_finite)


def _depth_over(obj: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = value.values()
        elif not isinstance(value, list):
            continue
        if depth > limit:
            return True
        stack.extend((v, depth + 1) for v in value if isinstance(v, dict | list))
    return False


def _lone_surrogate(obj: Any) -> bool:
    stack: list[Any] = [obj]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False


def load_json(raw: bytes, *, max_depth: int = MAX_DEPTH, text_only: bool = False) -> Any:
    """The decoded body.

    Args:
        raw: the body.
        max_depth: how deep arrays and objects may nest.
        text_only: refuse a body whose strings (keys or values) hold a lone UTF-16
            surrogate, which no Avro string can carry.

    Raises:
        BadJson: not UTF-8, not JSON (with line and column), nested deeper than
            ``max_depth``, a number too long to read, NaN/Infinity, or (``text_only``) a
            lone surrogate.

    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadJson(f"body is not UTF-8 (invalid byte at offset {exc.start}); send JSON encoded "
                      "as UTF-8") from None
    try:
        data = _DECODER.decode(text)
    except RecursionError:
        raise BadJson(f"body is nested too deeply; JSON documents may nest at most {max_depth} "
                      "levels") from None
    except json.JSONDecodeError as exc:
        raise BadJson(f"body is not valid JSON: {exc.msg} at line {exc.lineno} column "
                      f"{exc.colno}") from None
    except ValueError as exc:  # Python's limit on integer digits (4300)
        raise BadJson("body holds a number with thousands of digits; numbers must fit the "
                      f"contract (64-bit integers) ({str(exc)[:80]})") from None
    if raw.count(b"[") + raw.count(b"{") > max_depth and _depth_over(data, max_depth):
        raise BadJson(f"body is nested more than {max_depth} levels deep; no vendor document "
                      "is, so it is refused")
    if text_only and _SURROGATE_ESCAPE.search(raw) is not None and _lone_surrogate(data):
        raise BadJson("body holds a lone UTF-16 surrogate escape (\\ud800-\\udfff) in a string, "
                      "which is not text; send valid Unicode")
    return data
