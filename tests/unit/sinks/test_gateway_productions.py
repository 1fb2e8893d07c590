"""Performances of one production in the gateway: the view's index and the HTTP answer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from sinks.gateway.app import create_app
from sinks.gateway.view import View
from tests.support.gateway import gateway_parts

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
X = "uit-production|10ce7cb1-7bc9-4ce4-a256-460f56c49965"
Y = "dip-production|NL-23-1234-5"
E = "uit-event|b815e4e6-d79f-40f2-b329-50e566e23367"
A, B, C = "uit|b815e4e6-d79f-40f2-b329-50e566e23367#0", "dip|NL-23-1234-5|00002", "uit|x#1"


def rec(pid: str, keys: list[str], remaining: int, hours: int, version: int = 5) -> dict[str, Any]:
    """An Availability record as the loader decodes it, naming ``keys``."""
    return {"performance_id": pid, "capacity": 640, "sold": 640 - remaining, "remaining": remaining,
            "status": "AVAILABLE", "title": "Kommil Foo - OOGST", "start": NOW + timedelta(hours=hours),
            "updated_at": NOW, "version": version, "production_keys": keys}


def three() -> View:
    """A names {uit X, dip Y}, B names {dip Y} only, C names {uit X} only."""
    view = View(100, seq_base=0)
    view.apply_availability(A, rec(A, [E, X, Y], remaining=397, hours=1))
    view.apply_availability(B, rec(B, [Y], remaining=640, hours=3))
    view.apply_availability(C, rec(C, [X], remaining=300, hours=2))
    view.apply_availability("dip|NL-99-0000-1|00001", rec("dip|NL-99-0000-1|00001",
                                                          ["dip-production|NL-99-0000-1"], 5, 1))
    return view


def ids(view: View, asked: str) -> list[str] | None:
    found = view.production(asked, 100)
    return None if found is None else [d["performance_id"] for d in found.items]


@pytest.mark.parametrize("asked", [X, Y, E, "NL-23-1234-5", "nl-23-1234-5",
                                   "10CE7CB1-7BC9-4CE4-A256-460F56C49965",
                                   "b815e4e6-d79f-40f2-b329-50e566e23367", "DIP-PRODUCTION|nl-23-1234-5"])
def test_any_id_of_a_production_gives_all_its_performances_through_shared_keys(asked: str) -> None:
    view = three()
    assert ids(view, asked) == [A, C, B]  # by start, each its own performance
    found = view.production(asked, 100)
    assert found is not None and found.production_ids == sorted([E, X, Y]) and found.total == 3
    assert [d["remaining"] for d in found.items] == [397, 300, 640]


def test_a_withdrawn_performance_no_longer_relates_the_others() -> None:
    view = three()
    view.apply_availability(A, None, ts_ms=0)
    assert ids(view, X) == [C]
    assert ids(view, Y) == [B]
    assert view.production(E, 100) is None


def test_a_newer_record_moves_the_performance_and_a_stale_copy_changes_nothing() -> None:
    view = three()
    view.apply_availability(B, rec(B, ["dip-production|NL-99-0000-1"], 640, 3, version=6))
    view.apply_availability(B, rec(B, [Y], 640, 3, version=4))  # stale
    assert ids(view, Y) == [A, C]
    assert ids(view, "NL-99-0000-1") == ["dip|NL-99-0000-1|00001", B]


def test_unknown_production_is_none_and_the_limit_keeps_the_total() -> None:
    view = three()
    assert view.production("NL-00-0000-0", 100) is None
    assert view.production("", 100) is None
    found = view.production(Y, 1)
    assert found is not None and ([d["performance_id"] for d in found.items], found.total) == ([A], 3)


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(gateway_parts(three(), NOW, heartbeat_s=0.2))) as c:
        yield c


def test_get_production_performances_lists_the_ids_found_and_every_performance(client: TestClient) -> None:
    r = client.get(f"/v1/productions/{quote(Y, safe='')}/performances")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["production_id"] == Y
    assert body["production_ids"] == sorted([E, X, Y])
    assert [(d["performance_id"], d["remaining"]) for d in body["items"]] == [(A, 397), (C, 300), (B, 640)]
    assert (body["count"], body["total"]) == (3, 3)
    assert r.headers["X-Last-Event-ID"] == body["last_event_id"]
    assert body["items"][0]["production_keys"] == [E, X, Y]  # as the record names them


def test_an_unknown_production_is_a_404_that_says_which_ids_work(client: TestClient) -> None:
    r = client.get("/v1/productions/NL-00-0000-0/performances")
    assert r.status_code == 404
    assert r.json()["error"] == "not_found"
    assert "'NL-00-0000-0'" in r.json()["message"] and "DIP production id" in r.json()["message"]


def test_the_productions_route_is_in_the_openapi_document(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    op = doc["paths"]["/v1/productions/{production_id}/performances"]["get"]
    assert set(op["responses"]) == {"200", "400", "404", "503"}
    assert "ProductionPerformances" in doc["components"]["schemas"]
