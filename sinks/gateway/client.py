"""A small client of the gateway's SSE stream, for Python apps and tests (httpx).

Open an ``httpx.Client(base_url="http://127.0.0.1:8088", timeout=None)`` and iterate
``stream_events(client, topics="availability")``; keep the ``id`` of the last event and
pass it as ``last_event_id`` when reconnecting. See docs/subscribe-example.md.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["SseEvent", "parse_sse", "stream_events"]


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One Server-Sent Event (comments are not events)."""

    event: str
    data: str
    id: str | None

    def json(self) -> Any:
        return json.loads(self.data)


def parse_sse(lines: Iterable[str]) -> Iterator[SseEvent]:
    """Events from the lines of an ``text/event-stream`` body (WHATWG rules, no ``retry``)."""
    event, last_id = "message", None
    data: list[str] = []
    seen = False
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if seen:
                yield SseEvent(event, "\n".join(data), last_id)
            event, data, seen = "message", [], False
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event, seen = value, True
        elif name == "data":
            data.append(value)
            seen = True
        elif name == "id" and "\0" not in value:
            last_id = value
            seen = True


def stream_events(http: httpx.Client, *, topics: str = "availability,lastminute",
                  performance_id: str | None = None, region: str | None = None,
                  last_event_id: str | None = None) -> Generator[SseEvent, None, None]:
    """Open ``/v1/stream`` on ``http`` (a client with the gateway's base URL) and yield events.

    Raises:
        httpx.HTTPStatusError: the gateway refused the stream (400: bad parameter, 503: loading).

    """
    params = {"topics": topics}
    if performance_id:
        params["performance_id"] = performance_id
    if region:
        params["region"] = region
    headers = {"Accept": "text/event-stream"}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    with http.stream("GET", "/v1/stream", params=params, headers=headers) as resp:
        resp.raise_for_status()
        yield from parse_sse(resp.iter_lines())
