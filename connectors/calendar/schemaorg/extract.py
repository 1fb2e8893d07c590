"""JSON-LD out of a fetched document: ``<script type="application/ld+json">`` blocks of
an HTML page (parsed with selectolax/lexbor, a maintained HTML5 parser that keeps
script text verbatim and copes with broken markup), or the document itself when it
is JSON. Then the Event nodes: ``@graph`` and lists flattened, ``@type`` read with or
without the ``schema:``/``https://schema.org/`` prefix, every Event subtype.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from selectolax.lexbor import LexborHTMLParser

from connectors.sdk.jsonbody import BadJson, load_json

__all__ = ["EVENT_TYPES", "Block", "blocks_of", "event_types", "flatten", "short"]

#: schema.org Event and its subtypes (https://schema.org/Event#subtypes).
EVENT_TYPES = frozenset((
    "Event", "BusinessEvent", "ChildrensEvent", "ComedyEvent", "CourseInstance", "DanceEvent",
    "DeliveryEvent", "EducationEvent", "EventSeries", "ExhibitionEvent", "Festival",
    "FoodEvent", "Hackathon", "LiteraryEvent", "MusicEvent", "PublicationEvent",
    "BroadcastEvent", "OnDemandEvent", "SaleEvent", "ScreeningEvent", "SocialEvent",
    "SportsEvent", "TheaterEvent", "VisualArtsEvent",
))


@dataclass(frozen=True)
class Block:
    """One JSON-LD block: its bytes and the parsed JSON, or why it did not parse."""

    index: int
    raw: bytes
    data: Any = None
    error: str | None = None


def short(value: Any) -> str:
    """``"https://schema.org/EventCancelled"`` or ``"schema:EventCancelled"`` ->
    ``"EventCancelled"``."""
    text = str(value).strip()
    for sep in ("/", ":", "#"):
        text = text.rsplit(sep, 1)[-1]
    return text


def event_types(node: dict[str, Any]) -> list[str]:
    """The node's Event types (short names), empty when it is not an Event."""
    types = node.get("@type")
    types = types if isinstance(types, list) else [types]
    return [short(t) for t in types if isinstance(t, str) and short(t) in EVENT_TYPES]


def _is_json(body: bytes, content_type: str) -> bool:
    ct = content_type.split(";", 1)[0].strip().lower()
    if ct.endswith("json"):
        return True
    return body.lstrip()[:1] in (b"{", b"[")


def _parse(index: int, raw: bytes) -> Block:
    try:
        return Block(index, raw, load_json(raw))
    except BadJson as exc:  # also too deep, endless numbers, NaN: never RecursionError
        return Block(index, raw, error=f"JSON-LD block {index} is not valid JSON: {exc}")


def blocks_of(body: bytes, content_type: str = "") -> list[Block]:
    """The JSON-LD blocks of a page (or the one block a JSON document is)."""
    if _is_json(body, content_type):
        return [_parse(0, body)]
    tree = LexborHTMLParser(body.decode("utf-8", "replace"))
    out: list[Block] = []
    for node in tree.css("script"):
        kind = (node.attributes.get("type") or "").split(";", 1)[0].strip().lower()
        if kind == "application/ld+json":
            text = (node.text(deep=True) or "").strip()
            if text:
                out.append(_parse(len(out), text.encode()))
    return out


def flatten(data: Any) -> list[dict[str, Any]]:
    """Every top-level node: lists and ``@graph`` unpacked (recursively)."""
    out: list[dict[str, Any]] = []
    stack: deque[Any] = deque([data])  # in document order, linear in the nodes
    while stack:
        item = stack.popleft()
        if isinstance(item, list):
            stack.extendleft(reversed(item))
        elif isinstance(item, dict):
            graph = item.get("@graph")
            if isinstance(graph, list | dict):
                stack.extendleft(reversed(graph) if isinstance(graph, list) else [graph])
                if not any(k for k in item if k not in ("@context", "@graph", "@id")):
                    continue
            out.append(item)
    return out
