"""The receiver over HTTP (in process, publisher recorded): every answer a vendor can get."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from bus.settings import Settings
from connectors.fakes import webhooks as wh
from connectors.fakes.webhooks import FakeEventbriteApi
from connectors.sdk.dlq import scrub
from connectors.ticketing.webhook.cli import command
from tests.support.recording import RecordingPublisher
from tests.support.webhook import SECRET
from tests.support.webhook import WebhookHarness as Harness


@pytest.fixture()
def hx(api: FakeEventbriteApi) -> Harness:
    return Harness(api)


def _error(resp: httpx.Response) -> dict[str, Any]:
    body = resp.json()
    assert body["status"] in ("rejected", "unavailable")
    return body


def _only_dead_letter(pub: RecordingPublisher, body: bytes) -> Any:
    assert pub.records == []
    (letter,) = pub.dead_letters
    assert letter.raw == body  # the original bytes (the SDK scrubs them on the way out)
    return letter


# -- accepted ----------------------------------------------------------------------------
def test_a_signed_eventix_sale_is_answered_200_with_its_fact_ids(hx: Harness) -> None:
    resp = hx.post(wh.eventix_delivery("acme", SECRET, "order.paid", wh.eventix_order()))
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "accepted" and body["facts"] == 2
    assert body["fact_ids"] == [r.value.fact_id for r in hx.publisher.records]


def test_an_unreadable_dip_id_is_counted_and_the_sale_still_goes_out_with_its_vendor_id(
        hx: Harness) -> None:
    resp = hx.post(wh.eventix_delivery("acme", SECRET, "order.paid",
                                    wh.eventix_order(dip_id="Karamazov, voorstelling 3")))
    assert resp.status_code == 200 and resp.json()["facts"] == 2
    for record in hx.publisher.records:
        assert [i.namespace for i in record.value.identifiers] == ["vendor:eventix:acme"]
    assert hx.ctx.metrics_registry.get_sample_value(
        "cultuurbus_connector_identifiers_unreadable_total",
        {"connector": "webhook", "namespace": "dip"}) == 2  # one per fact that went without it


def test_a_replayed_delivery_is_answered_duplicate_and_not_published_again(hx: Harness) -> None:
    req = wh.eventix_delivery("acme", SECRET, "order.paid", wh.eventix_order())
    assert hx.post(req).json()["status"] == "accepted"
    again = hx.post(req)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert len(hx.publisher.records) == 2


def test_a_replayed_eventbrite_change_is_recognised_after_fetching(
        hx: Harness, api: FakeEventbriteApi) -> None:
    url = api.put_order(wh.eventbrite_order(order_id="9", event_id="98765", attendees=[
        wh.eventbrite_attendee(attendee_id="1", event_id="98765", order_id="9")]))
    first = hx.post(wh.eventbrite_delivery("acme", SECRET, "order.placed", url))
    second = hx.post(wh.eventbrite_delivery("acme", SECRET, "order.placed", url))
    assert (first.json()["status"], second.json()["status"]) == ("accepted", "duplicate")
    assert len(hx.publisher.records) == 1


def test_a_stager_delivery_publishes_one_snapshot(hx: Harness) -> None:
    resp = hx.post(wh.stager_delivery("acme", SECRET))
    assert resp.status_code == 200 and resp.json()["facts"] == 1
    assert [r.topic for r in hx.publisher.records] == ["ticketing.snapshots"]


# -- refused before reading the body ------------------------------------------------------
def test_an_unknown_vendor_is_404_naming_the_known_vendors(hx: Harness) -> None:
    resp = hx.request("POST", "/webhooks/paylogic/acme", content=b"{}")
    assert resp.status_code == 404
    err = _error(resp)
    assert "paylogic" in err["error"] and "eventbrite, eventix, stager" in err["error"]
    assert err["field"] == "vendor"


def test_an_account_without_a_secret_is_404_saying_how_to_configure_it(hx: Harness) -> None:
    req = wh.eventix_delivery("unknown-venue", SECRET, "order.paid", wh.eventix_order())
    resp = hx.post(req)
    assert resp.status_code == 404
    assert "eventix/unknown-venue" in _error(resp)["error"]
    assert hx.publisher.items == []


@pytest.mark.parametrize("tamper", ["drop", "wrong-secret", "body-changed"])
def test_a_missing_or_wrong_signature_is_401_and_nothing_is_published(hx: Harness, tamper: str) -> None:
    req = wh.eventix_delivery("acme", SECRET, "order.paid", wh.eventix_order())
    headers = dict(req.headers)
    body = req.body
    if tamper == "drop":
        del headers["X-Signature"]
    elif tamper == "wrong-secret":
        headers["X-Signature"] = wh.eventix_delivery("acme", "other-secret-000000", "order.paid",
                                                  wh.eventix_order(), body=body).headers["X-Signature"]
    else:
        body = body.replace(b"Regulier", b"Regulieq")
    resp = hx.request("POST", req.path, content=body, headers=headers)
    assert resp.status_code == 401
    assert "X-Signature" in _error(resp)["error"]
    assert hx.publisher.items == []


def test_a_body_over_the_limit_is_413_by_its_content_length(api: FakeEventbriteApi) -> None:
    hx = Harness(api, max_body=2048)
    order = wh.eventix_order(tickets=[("Regulier", 2750)] * 40)
    resp = hx.post(wh.eventix_delivery("acme", SECRET, "order.paid", order))
    assert resp.status_code == 413
    assert "over the limit of 2048 bytes" in _error(resp)["error"]
    assert hx.publisher.items == []


def test_a_streamed_body_without_length_is_cut_off_at_the_limit(api: FakeEventbriteApi) -> None:
    hx = Harness(api, max_body=2048)
    req = wh.eventix_delivery("acme", SECRET, "order.paid", wh.eventix_order(tickets=[("Regulier", 1)] * 40))
    sent: list[int] = []

    async def chunks() -> Any:
        for i in range(0, len(req.body), 512):
            sent.append(i)
            yield req.body[i:i + 512]

    resp = hx.request("POST", req.path, content=chunks(), headers=req.headers)
    assert resp.status_code == 413
    assert "over the limit" in _error(resp)["error"]


def test_a_body_of_the_configured_mebibyte_is_read_and_dead_lettered_not_refused_413(
        hx: Harness) -> None:
    body = b'{"order": "' + b"a" * (1_048_576 - 13) + b'"}'
    assert len(body) == 1_048_576  # connector.max_body_bytes, the default
    resp = hx.post(wh.eventix_delivery("acme", SECRET, "order.paid", wh.eventix_order(), body=body))
    assert resp.status_code == 422 and _error(resp)["dead_lettered"] is True
    _only_dead_letter(hx.publisher, body)  # the SDK's publisher cuts it to what Kafka takes


# -- bad input of an authenticated vendor: 4xx + dead letter ------------------------------
def test_malformed_json_is_400_and_dead_lettered_with_the_original_bytes(hx: Harness) -> None:
    body = b'{"order": {"guid": "o-1", "tickets": [ '
    resp = hx.post(wh.eventix_delivery("acme", SECRET, "order.paid", wh.eventix_order(), body=body))
    assert resp.status_code == 400
    err = _error(resp)
    assert "not valid JSON" in err["error"] and err["field"] == "body" and err["dead_lettered"]
    letter = _only_dead_letter(hx.publisher, body)
    assert letter.topic == "ticketing.events" and letter.stage == "parse"


def test_a_missing_field_is_422_naming_it(hx: Harness) -> None:
    order = wh.eventix_order()
    del order["tickets"][0]["event_id"]
    req = wh.eventix_delivery("acme", SECRET, "order.paid", order)
    resp = hx.post(req)
    assert resp.status_code == 422
    err = _error(resp)
    assert err["field"] == "order.tickets[0].event_id" and "missing field" in err["error"]
    assert _only_dead_letter(hx.publisher, req.body).error.field == "order.tickets[0].event_id"


def test_a_wrong_type_is_422_naming_the_field_but_not_echoing_the_value(hx: Harness) -> None:
    order = wh.eventix_order()
    order["tickets"][1]["price"] = "zevenentwintig"
    resp = hx.post(wh.eventix_delivery("acme", SECRET, "order.paid", order))
    assert resp.status_code == 422
    err = _error(resp)
    assert err["field"] == "order.tickets[1].price" and "integer" in err["error"]
    assert "zevenentwintig" not in err["error"]


def test_a_negative_quantity_is_422(hx: Harness) -> None:
    req = wh.stager_delivery("acme", SECRET, ticket_types=[
        wh.stager_ticket_type("Regulier", "24.50", 300, -5, 0)])
    resp = hx.post(req)
    assert resp.status_code == 422
    err = _error(resp)
    assert err["field"] == "event.ticketTypes[0].available"
    assert "greater than or equal to 0" in err["error"]
    assert _only_dead_letter(hx.publisher, req.body).topic == "ticketing.snapshots"


def test_an_unknown_ticket_type_in_strict_mode_is_422_naming_it(api: FakeEventbriteApi) -> None:
    hx = Harness(api, strict=True)
    order = wh.eventix_order(tickets=[("Regulier", 2750), ("Rolstoelplaats + begeleider", 2750)])
    resp = hx.post(wh.eventix_delivery("acme", SECRET, "order.paid", order))
    assert resp.status_code == 422
    err = _error(resp)
    assert "Rolstoelplaats + begeleider" in err["error"]
    assert err["field"] == "order.tickets[1].ticket_name"
    assert hx.publisher.records == []  # not half an order


def test_an_unknown_ticket_type_outside_strict_mode_counts_as_other(hx: Harness) -> None:
    order = wh.eventix_order(tickets=[("Rolstoelplaats", 2750)])
    assert hx.post(wh.eventix_delivery("acme", SECRET, "order.paid", order)).status_code == 200
    assert hx.publisher.records[0].value.ticket_type.value == "OTHER"


def test_the_same_bad_delivery_retried_is_dead_lettered_once(hx: Harness) -> None:
    req = wh.eventix_delivery("acme", SECRET, "order.exploded", wh.eventix_order())
    assert [hx.post(req).status_code for _ in range(3)] == [422, 422, 422]
    assert len(hx.publisher.dead_letters) == 1


def test_a_contract_violation_is_422_not_a_crash(hx: Harness) -> None:
    order = wh.eventix_order()
    order["currency"] = "euro"
    resp = hx.post(wh.eventix_delivery("acme", SECRET, "order.paid", order))
    assert resp.status_code == 422 and "currency" in _error(resp)["error"]


# -- unavailable --------------------------------------------------------------------------
def test_kafka_unavailable_is_503_with_retry_after_and_the_replay_is_accepted_later(hx: Harness) -> None:
    req = wh.eventix_delivery("acme", SECRET, "order.paid", wh.eventix_order())
    hx.publisher.down = True
    resp = hx.post(req)
    assert resp.status_code == 503 and int(resp.headers["Retry-After"]) >= 1
    assert "Kafka" in _error(resp)["error"]
    hx.publisher.down = False
    assert hx.post(req).json()["status"] == "accepted"  # not mistaken for a duplicate


def test_an_eventbrite_api_that_does_not_answer_is_503_not_a_dropped_event(
        hx: Harness, api: FakeEventbriteApi) -> None:
    url = api.put_order(wh.eventbrite_order(order_id="9", event_id="1", attendees=[
        wh.eventbrite_attendee(attendee_id="1", event_id="1", order_id="9")]))
    api.fail(None)
    resp = hx.post(wh.eventbrite_delivery("acme", SECRET, "order.placed", url))
    assert resp.status_code == 503 and "Retry-After" in resp.headers
    assert hx.publisher.items == []


# -- ops ----------------------------------------------------------------------------------
def test_health_is_ready_only_while_kafka_is_reachable(hx: Harness) -> None:
    assert hx.request("GET", "/healthz").status_code == 200
    hx.publisher.down = True
    resp = hx.request("GET", "/healthz")
    assert resp.status_code == 503 and resp.json()["checks"] == {"kafka": False}
    assert hx.request("GET", "/healthz/live").json() == {"live": True}


def test_metrics_count_deliveries_by_vendor_and_outcome(hx: Harness) -> None:
    hx.post(wh.eventix_delivery("acme", SECRET, "order.paid", wh.eventix_order()))
    hx.request("POST", "/webhooks/nope/acme", content=b"{}")
    text = hx.request("GET", "/metrics").text
    assert 'cultuurbus_webhook_deliveries_total{outcome="accepted",status="200",vendor="eventix"} 1.0' in text
    assert 'cultuurbus_webhook_deliveries_total{outcome="rejected",status="404",vendor="unknown"} 1.0' in text


def test_openapi_documents_each_vendor_body_required_headers_triggers_and_every_status(hx: Harness) -> None:
    spec = hx.request("GET", "/openapi.json").json()
    assert {"/webhooks/eventix/{account}", "/webhooks/eventbrite/{account}",
            "/webhooks/stager/{account}", "/healthz"} <= set(spec["paths"])
    eventix = spec["paths"]["/webhooks/eventix/{account}"]["post"]
    trigger = next(p for p in eventix["parameters"] if p["name"] == "OpenTicket-Trigger")
    assert trigger["required"] is True and "order.refunded" in trigger["schema"]["enum"]
    assert eventix["security"] == [{"signature": []}]
    scheme = spec["components"]["securitySchemes"]["signature"]
    assert (scheme["in"], scheme["name"]) == ("header", "X-Signature")
    for path in ("/webhooks/eventix/{account}", "/webhooks/eventbrite/{account}",
                 "/webhooks/stager/{account}"):
        op = spec["paths"][path]["post"]
        assert {"200", "400", "401", "404", "413", "422", "503"} <= set(op["responses"])
        assert "Retry-After" in op["responses"]["503"]["headers"]
    action = spec["components"]["schemas"]["EventbriteConfig"]["properties"]["action"]
    assert "attendee.checked_in" in action["enum"]
    assert "EventixDelivery" in spec["components"]["schemas"]
    assert "EventixTicket" in spec["components"]["schemas"]  # nested models resolvable
    assert hx.request("GET", "/docs").status_code == 200


def test_no_personal_data_in_answers(hx: Harness) -> None:
    person = wh.PEOPLE[0]
    resp = hx.post(wh.eventix_delivery("acme", SECRET, "order.paid", wh.eventix_order(person=person)))
    for raw in person.personal_values():
        assert raw not in resp.text
    assert json.loads(resp.text)["status"] == "accepted"


# -- CLI ----------------------------------------------------------------------------------
def test_the_cli_help_explains_options_and_secrets() -> None:
    out = CliRunner().invoke(command, ["--help"])
    assert out.exit_code == 0
    for text in ("--secret", "VENDOR[/ACCOUNT]=SECRET", "CULTUURBUS_WEBHOOK__SECRETS", "--port",
                 "--strict-ticket-types", "/docs"):
        assert text in out.output


def test_the_cli_refuses_to_start_without_any_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CULTUURBUS_WEBHOOK__SECRETS", raising=False)
    out = CliRunner().invoke(command, [], obj=Settings())
    assert out.exit_code != 0 and "no webhook secrets configured" in str(out.exception)


def test_the_cli_refuses_a_secret_for_an_unknown_vendor() -> None:
    out = CliRunner().invoke(command, ["--secret", "paylogic/acme=xyz"], obj=Settings())
    assert out.exit_code == 2 and "unknown vendor" in out.output


def test_a_truncated_body_is_dead_lettered_without_the_personal_values_it_holds(hx: Harness) -> None:
    person = wh.PEOPLE[2]
    full = wh.eventix_delivery("acme", SECRET, "order.paid", wh.eventix_order(person=person)).body
    cut = full[: full.index(person.birthdate.encode()) + 4]  # ends inside the birth date
    resp = hx.post(wh.eventix_delivery("acme", SECRET, "order.paid", wh.eventix_order(), body=cut))
    assert resp.status_code == 400
    (letter,) = hx.publisher.dead_letters
    written, redacted = scrub(letter.raw)  # what the SDK's publisher writes to the DLQ
    assert redacted
    for raw in person.personal_values():
        assert raw.encode() not in written
    assert b"1999" not in written  # the cut-off birth date is masked too
    assert b'"firstname": "[redacted]"' in written
    assert b'"birthdate": "[redacted]"' in written
