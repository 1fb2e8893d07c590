"""Each vendor's deliveries as that vendor really sends them, authenticated by what it
offers (``webhook.auth``): a token in the URL, OpenTicket's nonce, Eventbrite's fetch;
HMAC stays for relays. In process, publisher recorded."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from bus.errors import ConfigError
from bus.settings import WebhookSettings, load_settings
from connectors.fakes import webhooks as wh
from connectors.fakes.webhooks import FakeEventbriteApi
from connectors.ticketing.webhook import create_app
from tests.support.webhook import SECRET
from tests.support.webhook import WebhookHarness as Harness

TOKEN = "tok-9f1c2e7a55b04d3e8a61"


def harness(api: FakeEventbriteApi, **webhook: Any) -> Harness:
    """The receiver with these webhook settings (and the fake Eventbrite API allowed)."""
    hx = Harness(api)
    webhook.setdefault("eventbrite_tokens", {"acme": api.token})
    hx.settings = WebhookSettings(eventbrite_api_hosts=(api.host,), fetch_attempts=2, **webhook)
    hx.app = create_app(hx.ctx, hx.settings)
    return hx


@pytest.fixture()
def modes(api: FakeEventbriteApi) -> Harness:
    return harness(api, url_tokens={"stager/acme": TOKEN, "eventbrite/acme": TOKEN},
                   openticket_nonces={"eventix/acme": wh.EVENTIX_NONCE},
                   secrets={"eventix/relayed": SECRET})


def _order_url(api: FakeEventbriteApi, order_id: str = "5550001") -> str:
    return api.put_order(wh.eventbrite_order(order_id=order_id, event_id="ev-1", attendees=[
        wh.eventbrite_attendee(attendee_id=f"{order_id}01", event_id="ev-1", order_id=order_id)]))


# -- each vendor's real request shape is accepted ------------------------------------------
def test_a_stager_push_with_its_url_token_and_no_signature_is_published(modes: Harness) -> None:
    req = wh.stager_delivery("acme", None, url_token=TOKEN)
    assert "X-Signature" not in req.headers and req.path == f"/webhooks/stager/acme/{TOKEN}"
    resp = modes.post(req)
    assert resp.status_code == 200, resp.text
    assert [r.topic for r in modes.publisher.records] == ["ticketing.snapshots"]


def test_an_eventix_delivery_with_the_configured_nonce_and_no_signature_is_published(
        modes: Harness) -> None:
    req = wh.eventix_delivery("acme", None, "order.paid", wh.eventix_order())
    assert req.headers["OpenTicket-Identifier"] == wh.EVENTIX_NONCE and "X-Signature" not in req.headers
    resp = modes.post(req)
    assert resp.status_code == 200, resp.text
    assert resp.json()["facts"] == 2 and len(modes.publisher.records) == 2


def test_an_eventbrite_delivery_with_its_url_token_publishes_the_fetched_order(
        modes: Harness, api: FakeEventbriteApi) -> None:
    resp = modes.post(wh.eventbrite_delivery("acme", None, "order.placed", _order_url(api),
                                          url_token=TOKEN))
    assert resp.status_code == 200, resp.text
    (fact,) = [r.value for r in modes.publisher.records]
    assert fact.ticket_ids == ["555000101"] and fact.order_id == "5550001"  # type: ignore[attr-defined]


def test_an_eventbrite_account_with_only_its_own_api_token_is_accepted_as_a_pointer(
        api: FakeEventbriteApi) -> None:
    hx = harness(api, eventbrite_tokens={"acme": api.token})
    resp = hx.post(wh.eventbrite_delivery("acme", None, "order.placed", _order_url(api)))
    assert resp.status_code == 200, resp.text
    assert len(hx.publisher.records) == 1


def test_an_eventbrite_account_covered_only_by_the_wildcard_api_token_is_404(
        api: FakeEventbriteApi) -> None:
    hx = harness(api, eventbrite_tokens={"*": api.token})
    resp = hx.post(wh.eventbrite_delivery("acme", None, "order.placed", _order_url(api)))
    assert resp.status_code == 404
    assert "CULTUURBUS_WEBHOOK__URL_TOKENS" in resp.json()["error"]
    assert hx.publisher.items == [] and api.requests == []


def test_an_hmac_account_next_to_nonce_accounts_still_needs_its_signature(modes: Harness) -> None:
    signed = wh.eventix_delivery("relayed", SECRET, "order.paid", wh.eventix_order())
    assert modes.post(signed).status_code == 200
    unsigned = wh.eventix_delivery("relayed", None, "order.paid", wh.eventix_order())
    resp = modes.post(unsigned)
    assert resp.status_code == 401 and "X-Signature" in resp.json()["error"]


# -- a wrong or missing credential is refused, naming what to configure -------------------
@pytest.mark.parametrize("token", [None, "tok-0000000000000000000x"])
def test_a_missing_or_wrong_url_token_is_401_naming_the_setting(
        modes: Harness, token: str | None) -> None:
    resp = modes.post(wh.stager_delivery("acme", None, url_token=token))
    assert resp.status_code == 401
    err = resp.json()
    assert err["field"] == "token"
    assert 'CULTUURBUS_WEBHOOK__URL_TOKENS["stager/acme"]' in err["error"]
    assert modes.publisher.items == []


@pytest.mark.parametrize("nonce", ["", "not-the-nonce"])
def test_a_missing_or_wrong_openticket_identifier_is_401_naming_the_setting(
        modes: Harness, nonce: str) -> None:
    req = wh.eventix_delivery("acme", None, "order.paid", wh.eventix_order(), nonce=nonce)
    resp = modes.post(req)
    assert resp.status_code == 401
    err = resp.json()
    assert err["field"] == "headers.OpenTicket-Identifier"
    assert 'CULTUURBUS_WEBHOOK__OPENTICKET_NONCES["eventix/acme"]' in err["error"]
    assert modes.publisher.items == []


def test_a_token_in_the_url_of_an_account_that_takes_none_is_404(modes: Harness) -> None:
    req = wh.eventix_delivery("relayed", SECRET, "order.paid", wh.eventix_order(), url_token=TOKEN)
    resp = modes.post(req)
    assert resp.status_code == 404
    assert "takes no token" in resp.json()["error"] and "mode hmac" in resp.json()["error"]


def test_an_account_without_any_credential_is_404_naming_each_setting_to_add(
        modes: Harness) -> None:
    resp = modes.post(wh.eventix_delivery("other", None, "order.paid", wh.eventix_order()))
    assert resp.status_code == 404
    err = resp.json()["error"]
    for setting in ("CULTUURBUS_WEBHOOK__URL_TOKENS", "CULTUURBUS_WEBHOOK__OPENTICKET_NONCES",
                    "CULTUURBUS_WEBHOOK__SECRETS", "eventix/other"):
        assert setting in err


@pytest.mark.parametrize(("allow", "status"), [(("203.0.113.0/24",), 403),
                                               (("127.0.0.0/8", "2001:db8::/32"), 200)])
def test_stager_deliveries_are_held_to_stager_allow_from_by_peer_address(
        api: FakeEventbriteApi, allow: tuple[str, ...], status: int) -> None:
    hx = harness(api, url_tokens={"stager/acme": TOKEN}, stager_allow_from=allow)
    resp = hx.post(wh.stager_delivery("acme", None, url_token=TOKEN))  # the test client is 127.0.0.1
    assert resp.status_code == status, resp.text
    if status == 403:
        assert "CULTUURBUS_WEBHOOK__STAGER_ALLOW_FROM" in resp.json()["error"]
        assert hx.publisher.items == []


# -- the token never leaves the request ----------------------------------------------------
def test_the_url_token_is_not_in_answers_logs_metrics_or_the_dead_letter(
        modes: Harness, api: FakeEventbriteApi, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "tok-wrong-wrong-wrong-0001"
    answers = [modes.post(wh.stager_delivery("acme", None, url_token=wrong)),
               modes.post(wh.eventbrite_delivery("acme", None, "order.exploded", _order_url(api),
                                              url_token=TOKEN)),
               modes.post(wh.eventbrite_delivery("acme", None, "order.placed", _order_url(api),
                                              url_token=TOKEN))]
    assert [a.status_code for a in answers] == [401, 422, 200]
    (letter,) = modes.publisher.dead_letters
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records
                      if not r.name.startswith(("httpx", "httpcore")))  # the test's client
    assert "delivery refused" in logged and "delivery accepted" in logged
    metrics = modes.request("GET", "/metrics").text
    for secret in (TOKEN, wrong):
        for text in [a.text for a in answers] + [logged, metrics, str(letter.where),
                                                 str(letter.error)]:
            assert secret not in text
        assert secret.encode() not in letter.raw
    # Eventbrite echoes its endpoint URL in the body: kept, the token masked
    assert json.loads(letter.raw)["config"]["endpoint_url"].endswith("/acme/<url-token>")


def test_an_access_log_after_the_answer_sees_the_url_token_masked_in_the_path(
        api: FakeEventbriteApi) -> None:
    hx = harness(api, url_tokens={"stager/acme": TOKEN})
    app, seen = hx.app, []

    async def access_log(scope: Any, receive: Any, send: Any) -> None:  # as a server logs
        await app(scope, receive, send)
        seen.extend([scope["path"], scope["raw_path"].decode()])

    hx.app = access_log  # type: ignore[assignment]
    delivered = hx.post(wh.stager_delivery("acme", None, url_token=TOKEN))  # the fast path
    wrong_method = hx.request("GET", f"/webhooks/stager/acme/{TOKEN}")  # FastAPI answers it
    assert (delivered.status_code, wrong_method.status_code) == (200, 405)
    assert seen == ["/webhooks/stager/acme/<token>"] * 4


# -- what an unsigned delivery can no longer protect ---------------------------------------
def test_with_a_nonce_the_trigger_header_is_trusted_as_the_body_and_replays_key_on_both(
        modes: Harness) -> None:
    order = wh.eventix_order()
    paid = wh.eventix_delivery("acme", None, "order.paid", order)
    assert modes.post(paid).json()["status"] == "accepted"
    assert modes.post(paid).json()["status"] == "duplicate"  # same body + trigger
    refunded = wh.eventix_delivery("acme", None, "order.refunded", order, body=paid.body)
    resp = modes.post(refunded)  # same body, another trigger: a new delivery, as sent
    assert resp.json()["status"] == "accepted"
    assert {r.value.event_type.value for r in modes.publisher.records} == {  # type: ignore[attr-defined]
        "SOLD", "REFUNDED"}


def test_with_a_nonce_a_delivery_without_trigger_is_422_and_dead_lettered_not_401(
        modes: Harness) -> None:
    req = wh.eventix_delivery("acme", None, "order.paid", wh.eventix_order())
    headers = {k: v for k, v in req.headers.items() if k != "OpenTicket-Trigger"}
    resp = modes.post(req, headers=headers)
    assert resp.status_code == 422 and resp.json()["dead_lettered"] is True
    assert "OpenTicket-Trigger" in resp.json()["error"]


# -- settings -------------------------------------------------------------------------------
@pytest.mark.parametrize(("webhook", "says"), [
    ({"url_tokens": {"stager/acme": "short"}}, "16 to 256"),
    ({"openticket_nonces": {"stager/acme": "n0nce"}}, "only Eventix"),
    ({"url_tokens": {"paylogic/acme": TOKEN}}, "unknown vendor 'paylogic'"),
    ({"url_tokens": {"eventix/acme": TOKEN}, "secrets": {"eventix/acme": SECRET}},
     "an account has one mode"),
])
def test_settings_that_cannot_authenticate_anything_are_refused_at_start(
        api: FakeEventbriteApi, webhook: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        harness(api, **webhook)


def test_a_stager_allow_from_that_is_no_network_is_refused_naming_it() -> None:
    with pytest.raises(ValidationError, match="'10.0.0.300/8' is not an IP network"):
        WebhookSettings(stager_allow_from=("10.0.0.300/8",))


def test_auth_settings_come_from_the_environment_and_a_misspelt_one_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CULTUURBUS_WEBHOOK__URL_TOKENS", json.dumps({"stager/acme": TOKEN}))
    monkeypatch.setenv("CULTUURBUS_WEBHOOK__OPENTICKET_NONCES", json.dumps({"eventix/acme": "n"}))
    monkeypatch.setenv("CULTUURBUS_WEBHOOK__STAGER_ALLOW_FROM", json.dumps(["203.0.113.0/24"]))
    webhook = load_settings().webhook
    assert webhook.url_tokens == {"stager/acme": SecretStr(TOKEN)}
    assert webhook.openticket_nonces["eventix/acme"].get_secret_value() == "n"
    assert webhook.stager_allow_from == ("203.0.113.0/24",)
    monkeypatch.setenv("CULTUURBUS_WEBHOOK__URL_TOKEN", "{}")
    with pytest.raises(ConfigError, match="URL_TOKEN"):
        load_settings()
