"""The receiver against hostile and broken senders (issue #11), over HTTP in process with
the publisher recorded: what is answered, what is published, what is dead-lettered."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from connectors.fakes import webhooks as wh
from connectors.fakes.webhooks import FakeEventbriteApi
from connectors.ticketing.webhook import sign
from tests.support.recording import RecordingPublisher
from tests.support.webhook import SECRET
from tests.support.webhook import WebhookHarness as Harness


@pytest.fixture()
def hx(api: FakeEventbriteApi) -> Harness:
    return Harness(api, fetch_attempts=1)


def _refused(resp: httpx.Response, status: int, field: str, pub: RecordingPublisher,
             body: bytes) -> dict[str, Any]:
    """The answer names ``field``; nothing was published; the original bytes were
    dead-lettered once."""
    assert resp.status_code == status, resp.text
    answer = resp.json()
    assert answer["status"] == "rejected" and answer["field"] == field, answer
    assert answer["dead_lettered"] is True
    assert pub.records == []
    (letter,) = pub.dead_letters
    assert letter.raw == body
    return answer


# -- 1. event times outside the window ----------------------------------------------------
@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-12:00", "2999-01-01T00:00:00Z",
                                  "1999-12-31T23:59:59Z", "0001-01-01T00:00:00+01:00"])
def test_an_eventix_order_dated_outside_the_window_is_422_naming_time(hx: Harness, when: str) -> None:
    req = wh.eventix_delivery("acme", SECRET, "order.paid", wh.eventix_order(), time=when)
    answer = _refused(hx.post(req), 422, "time", hx.publisher, req.body)
    assert "outside the accepted window" in answer["error"]
    assert "EVENT_TIME_MAX_AHEAD_S" in answer["error"]  # says which setting to change


def test_a_scan_dated_in_year_2999_is_422_naming_the_tickets_scanned_at(hx: Harness) -> None:
    order = wh.eventix_order()
    order["tickets"][0]["scanned_at"] = "2999-01-01T20:00:00+01:00"
    req = wh.eventix_delivery("acme", SECRET, "order.ticket.scanned", order,
                           ticket_guid=order["tickets"][0]["guid"])
    _refused(hx.post(req), 422, "order.tickets[0].scanned_at", hx.publisher, req.body)


def test_a_stager_change_dated_in_the_far_future_is_422_naming_event_modified(hx: Harness) -> None:
    req = wh.stager_delivery("acme", SECRET, modified="9999-12-31T23:59:59-12:00")
    _refused(hx.post(req), 422, "event.modified", hx.publisher, req.body)


def test_an_eventbrite_attendee_changed_before_the_window_is_422_naming_it(
        hx: Harness, api: FakeEventbriteApi) -> None:
    att = wh.eventbrite_attendee(attendee_id="a1", event_id="e1", order_id="o1", refunded=True,
                              changed="1970-01-01T00:00:00Z")
    url = api.put_order(wh.eventbrite_order(order_id="o1", event_id="e1", attendees=[att]))
    req = wh.eventbrite_delivery("acme", SECRET, "order.refunded", url)
    _refused(hx.post(req), 422, "api_url.attendees[0].changed", hx.publisher, req.body)


def test_an_eventbrite_event_changed_in_year_9999_is_422_naming_it(
        hx: Harness, api: FakeEventbriteApi) -> None:
    url = api.put_event(wh.eventbrite_event(event_id="e9", changed="9999-12-31T23:59:59Z"))
    req = wh.eventbrite_delivery("acme", SECRET, "event.updated", url)
    _refused(hx.post(req), 422, "api_url.changed", hx.publisher, req.body)


# -- 2. headers that change what a delivery means must be signed ----------------------------
def test_a_signed_body_replayed_with_another_trigger_is_refused(hx: Harness) -> None:
    paid = wh.eventix_delivery("acme", SECRET, "order.paid", wh.eventix_order())
    forged = {**paid.headers, "OpenTicket-Trigger": "order.refunded"}
    resp = hx.post(paid, forged)
    assert resp.status_code == 401, resp.text
    assert resp.json()["field"] == "headers.X-Signature"
    assert hx.publisher.items == []  # no refund, and no dead letter for unsigned input
    assert hx.post(paid).json()["status"] == "accepted"  # the genuine delivery still counts
    assert {r.value.event_type.value for r in hx.publisher.records} == {"SOLD"}


def test_a_signature_over_the_body_alone_is_not_enough_for_eventix(hx: Harness) -> None:
    req = wh.eventix_delivery("acme", SECRET, "order.refunded", wh.eventix_order())
    resp = hx.post(req, {**req.headers, "X-Signature": sign(SECRET, req.body)})
    assert resp.status_code == 401 and "trigger" in resp.json()["error"]
    assert hx.publisher.items == []


def test_an_eventix_delivery_without_a_trigger_header_is_401_naming_it(hx: Harness) -> None:
    req = wh.eventix_delivery("acme", SECRET, "order.paid", wh.eventix_order())
    headers = {k: v for k, v in req.headers.items() if k != "OpenTicket-Trigger"}
    resp = hx.post(req, headers)
    assert resp.status_code == 401
    assert resp.json()["field"] == "headers.OpenTicket-Trigger"
    assert "OpenTicket-Trigger" in resp.json()["error"]
    assert hx.publisher.items == []


def test_two_trigger_headers_that_disagree_are_refused(hx: Harness) -> None:
    req = wh.eventix_delivery("acme", SECRET, "order.paid", wh.eventix_order())
    resp = hx.post(req, {**req.headers, "X-Eventix-Trigger": "order.refunded"})
    assert resp.status_code == 401 and "different triggers" in resp.json()["error"]
    assert hx.publisher.items == []


def test_a_different_signed_order_sent_with_a_used_dedupe_key_is_published(hx: Harness) -> None:
    first = wh.eventix_delivery("acme", SECRET, "order.paid", wh.eventix_order(), dedupe_key="k-1")
    other = wh.eventix_delivery("acme", SECRET, "order.paid", wh.eventix_order(), dedupe_key="k-1")
    answers = [hx.post(first).json(), hx.post(other).json()]
    assert [a["status"] for a in answers] == ["accepted", "accepted"]
    assert len(hx.publisher.records) == 4
    assert {r.value.order_id for r in hx.publisher.records} == {
        json.loads(first.body)["order"]["guid"], json.loads(other.body)["order"]["guid"]}


def test_a_vendor_retry_with_a_new_dedupe_key_is_still_recognised(hx: Harness) -> None:
    order = wh.eventix_order()
    first = wh.eventix_delivery("acme", SECRET, "order.paid", order, dedupe_key="k-1")
    retry = {**first.headers, "OpenTicket-Dedupe-Key": "k-2"}
    assert hx.post(first).json()["status"] == "accepted"
    assert hx.post(first, retry).json()["status"] == "duplicate"
    assert len(hx.publisher.records) == 2


# -- 3. numbers outside the contract ------------------------------------------------------
def test_an_eventix_price_of_two_to_the_seventy_is_422_naming_the_input_price(hx: Harness) -> None:
    order = wh.eventix_order()
    order["tickets"][0]["price"] = 2**70
    req = wh.eventix_delivery("acme", SECRET, "order.paid", order)
    answer = _refused(hx.post(req), 422, "order.tickets[0].price", hx.publisher, req.body)
    assert "fact_ids" not in answer


@pytest.mark.parametrize(("types", "field"), [
    ([wh.stager_ticket_type("Regulier", "24.50", 2**40, 0, 0)], "event.ticketTypes[0].total"),
    ([wh.stager_ticket_type("Regulier", "24.50", 2**31 - 1, 0, 0),
      wh.stager_ticket_type("Studenten", "15.00", 2**31 - 1, 0, 0)], "event.ticketTypes[1].total"),
    ([wh.stager_ticket_type("Regulier", "90000000000000000", 10, 0, 0)], "event.ticketTypes[0].price"),
])
def test_stager_counts_and_sums_the_contract_cannot_carry_are_422_naming_the_input(
        hx: Harness, types: list[dict[str, Any]], field: str) -> None:
    req = wh.stager_delivery("acme", SECRET, ticket_types=types)
    _refused(hx.post(req), 422, field, hx.publisher, req.body)


@pytest.mark.parametrize(("change", "field"), [
    ({"costs": {"base_price": {"currency": "EUR", "value": 2**64}}},
     "api_url.attendees[0].costs.base_price.value"),
    ({"quantity": 10**6}, "api_url.attendees[0].quantity"),
    ({"costs": {"base_price": {"currency": "euro", "value": 100}}},
     "api_url.attendees[0].costs.base_price.currency"),
])
def test_eventbrite_values_the_contract_cannot_carry_are_422_naming_the_input(
        hx: Harness, api: FakeEventbriteApi, change: dict[str, Any], field: str) -> None:
    att = {**wh.eventbrite_attendee(attendee_id="a1", event_id="e1", order_id="o1"), **change}
    url = api.put_order(wh.eventbrite_order(order_id="o1", event_id="e1", attendees=[att]))
    req = wh.eventbrite_delivery("acme", SECRET, "order.placed", url)
    _refused(hx.post(req), 422, field, hx.publisher, req.body)


# -- 4. bodies Python's json module mishandles ----------------------------------------------
@pytest.mark.parametrize(("body", "says"), [
    (b"[" * 10_000 + b"]" * 10_000, "nested"),
    (b'{"order": {"tickets": [{"price": ' + b"9" * 5000 + b"}]}}", "digits"),
    (b'{"time": NaN}', "NaN"),
    (b'{"order": {"guid": "\\ud800"}}', "surrogate"),
])
def test_hostile_json_is_a_clear_400_and_dead_lettered_never_a_500(
        hx: Harness, body: bytes, says: str) -> None:
    req = wh.eventix_delivery("acme", SECRET, "order.paid", wh.eventix_order(), body=body)
    answer = _refused(hx.post(req), 400, "body", hx.publisher, body)
    assert says in answer["error"]


def test_a_ticket_name_with_a_lone_surrogate_is_refused_not_acknowledged(hx: Harness) -> None:
    order = wh.eventix_order()
    body = json.dumps({"meta": {}, "model": {"guid": order["guid"], "type": "order"},
                       "time": "2025-03-01T19:02:11+01:00", "order": order})
    body = body.replace('"Regulier"', '"Regulier \\udc00"')
    req = wh.eventix_delivery("acme", SECRET, "order.paid", order, body=body.encode())
    _refused(hx.post(req), 400, "body", hx.publisher, req.body)


def test_a_dip_id_with_thousands_of_digits_is_left_out_not_a_500(hx: Harness) -> None:
    req = wh.eventix_delivery("acme", SECRET, "order.paid",
                           wh.eventix_order(event_id="e-1", dip_id="NL-23-1234-5|" + "7" * 5000))
    resp = hx.post(req)
    assert resp.status_code == 200, resp.text
    assert [[i.namespace for i in r.value.identifiers] for r in hx.publisher.records] == [
        ["vendor:eventix:acme"]] * 2


def test_an_exception_python_raises_while_mapping_is_422_and_dead_lettered(
        hx: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors.ticketing.webhook import stager

    def explode(*_: Any) -> Any:
        raise OverflowError("int too large to convert")

    monkeypatch.setattr(stager.facts, "to_cents", explode)
    req = wh.stager_delivery("acme", SECRET)
    answer = _refused(hx.post(req), 422, "body", hx.publisher, req.body)
    assert "OverflowError" in answer["error"]


@pytest.mark.parametrize(("part", "when"), [("start", "2500-01-01T20:00:00Z"),
                                            ("end", "9999-12-31T23:59:59-12:00"),
                                            ("start", "1969-12-31T23:59:59Z")])
def test_an_eventbrite_show_at_a_time_no_reader_can_carry_is_422_naming_it(
        hx: Harness, api: FakeEventbriteApi, part: str, when: str) -> None:
    event = wh.eventbrite_event(event_id="e9")
    event[part]["utc"] = when
    req = wh.eventbrite_delivery("acme", SECRET, "event.updated", api.put_event(event))
    _refused(hx.post(req), 422, f"api_url.{part}.utc", hx.publisher, req.body)
