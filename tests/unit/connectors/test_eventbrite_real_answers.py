"""What real Eventbrite answers hold: a check-in is dated when the ticket was used, not
when the attendee record last changed (real answers leave ``changed`` at the purchase),
and a venue abroad keeps its country."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from connectors.fakes.webhooks import (
    FakeEventbriteApi,
    eventbrite_attendee,
    eventbrite_delivery,
    eventbrite_event,
)
from connectors.sdk.errors import MappingError
from connectors.sdk.privacy import Pseudonymiser
from connectors.ticketing.webhook.eventbrite import map_eventbrite
from connectors.ticketing.webhook.facts import Delivery, MappingEnv
from connectors.ticketing.webhook.fetch import EventbriteClient
from connectors.ticketing.webhook.settings import WebhookSettings
from connectors.ticketing.webhook.tickettypes import TicketTypeMapper
from schemas.models import Performance, TicketEvent, TicketEventType

PURCHASED = "2025-03-05T18:00:00Z"  # the attendee's created and changed, as real answers keep them
RECEIVED = datetime(2025, 4, 20, 17, 51, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def api() -> Any:
    with FakeEventbriteApi() as fake:
        yield fake


def _map(api: FakeEventbriteApi, action: str, url: str) -> Any:
    """The one fact of a delivery of ``action`` for ``url``, received at ``RECEIVED``."""
    settings = WebhookSettings(eventbrite_tokens={"acme": api.token},
                               eventbrite_api_hosts=(api.host,), fetch_attempts=2)
    env = MappingEnv(settings, Pseudonymiser(SecretStr("k" * 32)), TicketTypeMapper())
    req = eventbrite_delivery("acme", "unused-secret", action, url)
    delivery = Delivery("eventbrite", "acme", {}, req.body, RECEIVED, "r-1")

    async def run() -> Any:
        client = EventbriteClient(settings)
        try:
            return await map_eventbrite(delivery, json.loads(req.body), env, client)
        finally:
            await client.aclose()

    (record,) = asyncio.run(run()).records
    return record.value


# -- check-in time ----------------------------------------------------------------------
def _check_in(api: FakeEventbriteApi, barcodes: list[dict[str, Any]]) -> TicketEvent:
    att = eventbrite_attendee(attendee_id="777", event_id="98765", order_id="1", checked_in=True,
                              changed=PURCHASED)
    att["barcodes"] = barcodes
    scan = _map(api, "attendee.checked_in", api.put_attendee(att))
    assert isinstance(scan, TicketEvent) and scan.event_type is TicketEventType.SCANNED
    return scan


def _barcode(status: str, changed: str | None, code: str = "777001") -> dict[str, Any]:
    return {"barcode": code, "status": status, "created": "2025-03-05T17:58:12Z",
            "changed": changed, "checkin_type": 0, "is_printed": False}


def test_a_check_in_carries_the_time_its_barcode_was_used_not_the_purchase_time(
        api: FakeEventbriteApi) -> None:
    scan = _check_in(api, [_barcode("used", "2025-04-20T17:49:00Z")])
    assert scan.event_time == datetime(2025, 4, 20, 17, 49, tzinfo=UTC)


def test_of_several_barcodes_the_latest_used_one_dates_the_check_in(api: FakeEventbriteApi) -> None:
    scan = _check_in(api, [_barcode("used", "2025-04-20T17:40:00Z", "777001"),
                           _barcode("unused", "2025-04-20T17:59:00Z", "777002"),
                           _barcode("used", "2025-04-20T17:45:00Z", "777003")])
    assert scan.event_time == datetime(2025, 4, 20, 17, 45, tzinfo=UTC)


@pytest.mark.parametrize("barcodes", [[], [_barcode("unused", "2025-04-20T17:49:00Z")],
                                      [_barcode("used", None)]])
def test_a_check_in_without_a_used_barcode_time_carries_the_delivery_time(
        api: FakeEventbriteApi, barcodes: list[dict[str, Any]]) -> None:
    assert _check_in(api, barcodes).event_time == RECEIVED


# -- venue country ----------------------------------------------------------------------
def _venue_country(api: FakeEventbriteApi, country: Any) -> str | None:
    event = eventbrite_event(event_id="4242")
    event["venue"]["address"]["country"] = country
    perf = _map(api, "event.updated", api.put_event(event))
    assert isinstance(perf, Performance)
    return perf.venue.country


@pytest.mark.parametrize(("written", "iso"), [
    ("Zwitserland", "CH"), ("Suisse", "CH"), ("Schweiz", "CH"), ("CHE", "CH"), ("Österreich", "AT"),
    ("Oostenrijk", "AT"), ("España", "ES"), ("Spanje", "ES"), ("Ireland", "IE"), ("Irlande", "IE"),
    ("België", "BE"), ("Luxemburg", "LU")])
def test_an_eventbrite_venue_abroad_keeps_its_country(api: FakeEventbriteApi, written: str,
                                                      iso: str) -> None:
    assert _venue_country(api, written) == iso


def test_an_eventbrite_venue_in_an_unknown_country_is_refused_naming_it(api: FakeEventbriteApi) -> None:
    with pytest.raises(MappingError) as err:
        _venue_country(api, "Atlantis")
    assert err.value.field == "api_url.venue.address.country"
    assert "'Atlantis'" in str(err.value) and "is not a country" in str(err.value)


def test_an_eventbrite_venue_that_names_no_country_has_none_never_a_guessed_nl(
        api: FakeEventbriteApi) -> None:
    assert _venue_country(api, None) is None  # unknown, not the old silent NL
    with pytest.raises(MappingError):
        _venue_country(api, "Holland-Zuid")
