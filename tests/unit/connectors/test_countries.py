"""Countries as vendors write them become ISO codes in every connector; a value that is no
country is refused naming it, never turned into a default country."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr

from connectors.calendar.schemaorg.extract import blocks_of
from connectors.calendar.schemaorg.mapping import Page, map_page
from connectors.fakes.calendars import schemaorg_page, theater_event
from connectors.fakes.webhooks import FakeEventbriteApi, eventix_delivery, eventix_order
from connectors.sdk.errors import MappingError
from connectors.sdk.privacy import Pseudonymiser
from connectors.ticketing.csvfile.columns import map_header
from connectors.ticketing.csvfile.mapping import RowEnv, map_row
from connectors.ticketing.eventstream.mapping import MappingEnv as EventstreamEnv
from connectors.ticketing.eventstream.mapping import map_item
from connectors.ticketing.webhook.eventix import map_eventix
from connectors.ticketing.webhook.facts import Delivery, MappingEnv
from connectors.ticketing.webhook.settings import WebhookSettings
from connectors.ticketing.webhook.tickettypes import TicketTypeMapper
from schemas.models import Performance, TicketEvent, utcnow
from tests.support.webhook import SECRET
from tests.support.webhook import WebhookHarness as Harness

PSEUDONYMISER = Pseudonymiser(SecretStr("unit-test-secret-0123456789"))

#: Venues and buyers outside NL/BE, as their addresses spell them.
ABROAD = [("Zwitserland", "CH"), ("Suisse", "CH"), ("Schweiz", "CH"), ("Switzerland", "CH"),
          ("Österreich", "AT"), ("Oostenrijk", "AT"), ("Autriche", "AT"), ("Austria", "AT"),
          ("España", "ES"), ("Spanje", "ES"), ("Espagne", "ES"), ("Spanien", "ES"),
          ("Ireland", "IE"), ("Ierland", "IE"), ("Irlande", "IE"), ("Irland", "IE"),
          ("CHE", "CH"), ("aut", "AT"), ("  osterreich ", "AT")]
#: Neighbours whose names some of today's tables read and others turned into NL.
NEIGHBOURS = [("België", "BE"), ("Belgie", "BE"), ("Belgique", "BE"), ("Luxemburg", "LU")]


# -- Eventix buyer, over HTTP -----------------------------------------------------------
def _eventix_buyer(country: Any) -> TicketEvent:
    order = eventix_order()
    order["customer"]["country"] = country
    req = eventix_delivery("acme", SECRET, "order.paid", order)
    settings = WebhookSettings(secrets={"eventix": SECRET})
    env = MappingEnv(settings, PSEUDONYMISER, TicketTypeMapper())
    delivery = Delivery("eventix", "acme", {k.lower(): v for k, v in req.headers.items()},
                        req.body, utcnow(), "r-1")
    fact = map_eventix(delivery, json.loads(req.body), env).records[0].value
    assert isinstance(fact, TicketEvent)
    return fact


@pytest.mark.parametrize(("written", "iso"), [("Schweiz", "CH"), ("Ireland", "IE"), ("España", "ES")])
def test_an_eventix_buyer_from_abroad_keeps_their_country(written: str, iso: str) -> None:
    buyer = _eventix_buyer(written).buyer
    assert buyer is not None and buyer.country == iso


def test_an_eventix_buyer_without_a_country_has_none_rather_than_nl() -> None:
    buyer = _eventix_buyer(None).buyer
    assert buyer is not None and buyer.country is None


def test_an_eventix_buyer_in_an_unknown_country_is_answered_422_naming_it_and_dead_lettered() -> None:
    order = eventix_order()
    order["customer"]["country"] = "Narnia"
    req = eventix_delivery("acme", SECRET, "order.paid", order)
    with FakeEventbriteApi() as api:
        hx = Harness(api)
        resp = hx.post(req)
    assert resp.status_code == 422
    body = resp.json()
    assert body["field"] == "order.customer.country" and "'Narnia'" in body["error"]
    assert hx.publisher.records == []
    (letter,) = hx.publisher.dead_letters
    assert letter.raw == req.body and letter.error.field == "order.customer.country"


# -- box-office CSV ---------------------------------------------------------------------
HEADER = ["order_id", "ticket_id", "event_id", "action", "ticket_type", "price", "sold_at",
          "customer_id", "postcode", "country"]
CSV_ENV = RowEnv("schauspielhaus", PSEUDONYMISER, ZoneInfo("Europe/Vienna"))


def _csv(country: str) -> TicketEvent:
    row = ["B-1", "T-1", "EV-1", "sale", "Normaal", "27,50", "2025-02-03 14:30:00", "K-1", "1010",
           country]
    return map_row(row, map_header(HEADER), CSV_ENV)


@pytest.mark.parametrize(("written", "iso"), ABROAD)
def test_a_box_office_buyer_from_abroad_keeps_their_country(written: str, iso: str) -> None:
    buyer = _csv(written).buyer
    assert buyer is not None and buyer.country == iso


def test_a_box_office_row_with_an_unknown_country_is_refused_naming_it() -> None:
    with pytest.raises(MappingError) as err:
        _csv("Zwitserlnd")
    assert err.value.field == "country" and "'Zwitserlnd'" in str(err.value)


# -- event stream (Ticketmatic) ---------------------------------------------------------
def _stream_order(countrycode: Any) -> dict[str, Any]:
    return {"id": 1, "type": "order:confirmed", "ts": "2025-02-03T14:30:00",
            "data": {"orderid": 1, "customerid": 7, "customer": {"addresses": [
                {"zip": "8001", "countrycode": countrycode}]},
                "tickets": [{"id": 1, "eventid": 2, "price": "25"}]}}


def test_a_ticketmatic_buyer_from_abroad_keeps_their_country() -> None:
    fact = map_item(_stream_order("CHE"), EventstreamEnv("acme", PSEUDONYMISER)).records[0].value
    assert isinstance(fact, TicketEvent) and fact.buyer is not None and fact.buyer.country == "CH"


@pytest.mark.parametrize("countrycode", ["XX", "Swiss", 41])
def test_a_ticketmatic_country_code_that_is_no_country_is_refused_naming_it(countrycode: Any) -> None:
    with pytest.raises(MappingError) as err:
        map_item(_stream_order(countrycode), EventstreamEnv("acme", PSEUDONYMISER))
    assert err.value.field == "data.customer.addresses[0].countrycode"
    assert repr(countrycode) in str(err.value)


# -- schema.org calendar ----------------------------------------------------------------
PAGE = Page("https://www.theater.test/agenda", "theater.test", ZoneInfo("Europe/Amsterdam"), "NL",
            datetime(2025, 2, 1, tzinfo=UTC))


def _page(country: Any) -> tuple[list[Performance], list[Any]]:
    event = theater_event("Faust", "2025-05-03T20:00:00+02:00", venue="Burgtheater",
                          postcode="1010", city="Wien", country=country)
    return map_page(blocks_of(schemaorg_page([event]).encode(), "text/html"), PAGE)


@pytest.mark.parametrize(("written", "iso"), [("Österreich", "AT"), ("Suisse", "CH"), ("Irlande", "IE")])
def test_a_calendar_venue_abroad_keeps_its_country_not_the_page_default(written: str, iso: str) -> None:
    (perf,), failures = _page(written)
    assert failures == [] and perf.venue.country == iso


def test_a_calendar_venue_in_an_unknown_country_is_a_dead_letter_naming_it() -> None:
    performances, (failure,) = _page("Ruritania")
    assert performances == []
    assert failure.error.field == "location.address.addressCountry"
    assert "'Ruritania'" in str(failure.error)


def test_a_calendar_venue_takes_the_configured_country_only_when_its_address_names_none() -> None:
    (perf,), _ = _page("")
    assert perf.venue.country == "NL"  # the page's --country
    assert _page("Absurdistan")[0] == []
