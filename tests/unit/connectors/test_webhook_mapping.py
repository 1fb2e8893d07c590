"""Each vendor shape maps to the right contract facts, identifiers and stable fact ids."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from connectors.fakes import webhooks as wh
from connectors.fakes.webhooks import FakeEventbriteApi, SignedRequest
from connectors.sdk.errors import MappingError
from connectors.sdk.privacy import Pseudonymiser
from connectors.ticketing.webhook.eventbrite import map_eventbrite
from connectors.ticketing.webhook.eventix import map_eventix
from connectors.ticketing.webhook.facts import Delivery, MappingEnv
from connectors.ticketing.webhook.fetch import EventbriteClient
from connectors.ticketing.webhook.settings import WebhookSettings
from connectors.ticketing.webhook.stager import map_stager
from connectors.ticketing.webhook.tickettypes import TicketTypeMapper
from schemas.models import (
    Identifier,
    Performance,
    PerformanceStatus,
    SalesSnapshot,
    TicketEvent,
    TicketEventType,
    TicketType,
)

SECRET = "unit-secret-000000"
SETTINGS = WebhookSettings(secrets={"eventix": SECRET})
ENV = MappingEnv(SETTINGS, Pseudonymiser(SecretStr("k" * 32)),
                 TicketTypeMapper())


def _delivery(req: SignedRequest, vendor: str, account: str = "acme") -> tuple[Delivery, Any]:
    from schemas.models import utcnow

    headers = {k.lower(): v for k, v in req.headers.items()}
    return Delivery(vendor, account, headers, req.body, utcnow(), "r-1"), json.loads(req.body)


def _eventix(trigger: str, order: dict[str, Any], **kw: Any) -> list[TicketEvent]:
    d, p = _delivery(wh.eventix_delivery("acme", SECRET, trigger, order, **kw), "eventix")
    return [r.value for r in map_eventix(d, p, ENV).records]  # type: ignore[misc]


# -- Eventix ---------------------------------------------------------------------------
def test_a_paid_eventix_order_is_one_sale_per_ticket_with_type_price_and_order() -> None:
    order = wh.eventix_order(tickets=[("Regulier", 2750), ("CJP korting", 2250), ("Vrijkaart", 0)])
    facts = _eventix("order.paid", order)
    assert [f.event_type for f in facts] == [TicketEventType.SOLD] * 3
    assert [f.ticket_type for f in facts] == [TicketType.NORMAL, TicketType.DISCOUNT, TicketType.FREE]
    assert [f.price_cents for f in facts] == [2750, 2250, 0]
    assert all(f.quantity == 1 and f.order_id == order["guid"] and f.channel == "shop" for f in facts)
    assert [f.ticket_ids for f in facts] == [[t["guid"]] for t in order["tickets"]]
    assert facts[0].source_system == "eventix" and facts[0].source_account == "acme"


def test_eventix_facts_are_keyed_by_the_vendor_event_and_carry_the_dip_id_of_the_custom_field() -> None:
    fact = _eventix("order.paid", wh.eventix_order(event_id="e-99", dip_id="NL-23-1234-5|3"))[0]
    vendor = Identifier.vendor("eventix", "acme", "e-99")
    assert fact.performance_key == vendor.key == "vendor:eventix:acme|e-99"
    assert fact.identifiers == [vendor, Identifier.dip("NL-23-1234-5", 3)]


def test_an_eventix_event_without_a_dip_field_carries_only_its_vendor_id() -> None:
    fact = _eventix("order.paid", wh.eventix_order(dip_id=None))[0]
    assert [i.namespace for i in fact.identifiers] == ["vendor:eventix:acme"]


def test_an_unreadable_dip_id_is_left_out_but_the_sale_still_counts() -> None:
    facts = _eventix("order.paid", wh.eventix_order(dip_id="not a dip id"))
    assert len(facts) == 2 and all(len(f.identifiers) == 1 for f in facts)


@pytest.mark.parametrize(("trigger", "kind"), [
    ("order.cancelled", TicketEventType.CANCELLED), ("order.refunded", TicketEventType.REFUNDED)])
def test_eventix_order_level_triggers_map_every_ticket(trigger: str, kind: TicketEventType) -> None:
    facts = _eventix(trigger, wh.eventix_order())
    assert [f.event_type for f in facts] == [kind, kind]


def test_a_scan_maps_only_the_scanned_ticket_at_its_scan_time() -> None:
    order = wh.eventix_order()
    order["tickets"][1]["scanned_at"] = "2025-04-12T19:52:03+02:00"
    facts = _eventix("order.ticket.scanned", order, ticket_guid=order["tickets"][1]["guid"])
    assert len(facts) == 1
    assert facts[0].event_type is TicketEventType.SCANNED
    assert facts[0].ticket_ids == [order["tickets"][1]["guid"]]
    assert facts[0].event_time.isoformat() == "2025-04-12T19:52:03+02:00"


def test_the_same_ticket_and_fact_type_always_gets_the_same_fact_id() -> None:
    order = wh.eventix_order()
    first = _eventix("order.refunded", order, dedupe_key="k1")
    replay = _eventix("order.refunded", order, dedupe_key="k2", time="2025-03-09T10:00:00+01:00")
    ticket = _eventix("order.ticket.refunded", order, ticket_guid=order["tickets"][0]["guid"])
    sale = _eventix("order.paid", order)
    assert [f.fact_id for f in first] == [f.fact_id for f in replay]
    assert ticket[0].fact_id == first[0].fact_id
    assert {f.fact_id for f in sale}.isdisjoint(f.fact_id for f in first)


def test_the_eventix_buyer_is_pseudonymised_to_hash_postcode_area_and_birth_year() -> None:
    person = wh.PEOPLE[0]
    fact = _eventix("order.paid", wh.eventix_order(person=person))[0]
    assert fact.buyer is not None
    assert fact.buyer.postcode_area == "3511" and fact.buyer.birth_year == 1984
    assert fact.buyer.country == "NL"
    dumped = fact.model_dump_json()
    for raw in person.personal_values():
        assert raw not in dumped


def test_the_delivery_key_comes_from_the_signed_trigger_and_body_not_the_dedupe_header() -> None:
    order = wh.eventix_order()
    keys = {}
    for trigger, dedupe in [("order.paid", "ba7a36206f"), ("order.paid", "another-key"),
                            ("order.refunded", "ba7a36206f")]:
        d, p = _delivery(wh.eventix_delivery("acme", SECRET, trigger, order, dedupe_key=dedupe),
                         "eventix")
        keys[(trigger, dedupe)] = map_eventix(d, p, ENV).delivery_key
    # a vendor retry (same trigger and body) is recognised whatever its unsigned header says
    assert keys[("order.paid", "ba7a36206f")] == keys[("order.paid", "another-key")]
    # another trigger is another delivery, even with the same dedupe header
    assert keys[("order.paid", "ba7a36206f")] != keys[("order.refunded", "ba7a36206f")]
    assert "ba7a36206f" not in keys[("order.paid", "ba7a36206f")]


@pytest.mark.parametrize(("trigger", "says"), [
    ("order.exploded", "unsupported trigger 'order.exploded'"),
])
def test_an_unknown_eventix_trigger_is_refused_naming_the_known_ones(trigger: str, says: str) -> None:
    with pytest.raises(MappingError) as err:
        _eventix(trigger, wh.eventix_order())
    assert says in str(err.value) and "order.paid" in str(err.value)
    assert err.value.field == "headers.OpenTicket-Trigger"


# -- Stager ----------------------------------------------------------------------------
def _stager(**kw: Any) -> SalesSnapshot:
    d, p = _delivery(wh.stager_delivery("acme", SECRET, **kw), "stager")
    mapped = map_stager(d, p, ENV)
    assert [r.topic for r in mapped.records] == ["ticketing.snapshots"]
    return mapped.records[0].value  # type: ignore[return-value]


def test_stager_counts_become_a_cumulative_snapshot_per_ticket_type() -> None:
    snap = _stager(ticket_types=[
        wh.stager_ticket_type("Regulier", "24.50", 300, 120, 10),
        wh.stager_ticket_type("Reguliere plaats balkon", "19.50", 100, 100, 0),
        wh.stager_ticket_type("Studenten", "15.00", 50, 20, 0),
        wh.stager_ticket_type("Vrijkaart", "0", 20, 12, 0),
    ], dip_id="NL-24-0042-1|12")
    lines = {line.ticket_type: (line.tickets, line.revenue_cents) for line in snap.lines}
    assert lines == {TicketType.NORMAL: (170, 170 * 2450), TicketType.DISCOUNT: (30, 30 * 1500),
                     TicketType.FREE: (8, 0)}
    assert snap.reservations == 10 and snap.reservations_value_cents == 10 * 2450
    assert snap.capacity == 470
    assert snap.performance_key == "vendor:stager:acme|st-8841"
    assert Identifier.dip("NL-24-0042-1", 12) in snap.identifiers
    assert snap.event_time.isoformat() == "2025-03-02T10:15:00+01:00"


def test_the_same_stager_state_gets_the_same_fact_id_and_a_change_a_new_one() -> None:
    assert _stager().fact_id == _stager().fact_id
    changed = _stager(ticket_types=[wh.stager_ticket_type("Regulier", "24.50", 300, 119, 10)])
    assert changed.fact_id != _stager().fact_id


def test_stager_with_more_sold_and_reserved_than_exist_is_a_negative_quantity() -> None:
    with pytest.raises(MappingError) as err:
        _stager(ticket_types=[wh.stager_ticket_type("Regulier", "24.50", 10, 8, 5)])
    assert "negative quantity" in str(err.value)
    assert err.value.field == "event.ticketTypes[0].total"


def test_each_account_reads_sector_ids_from_its_own_custom_field() -> None:
    settings = WebhookSettings(secrets={"eventix": SECRET},
                               account_id_fields={"eventix/theater-b": {"dip": "productie_dip"}})
    env = MappingEnv(settings, ENV.pseudonymiser, ENV.ticket_types)
    order = wh.eventix_order(dip_id="NL-23-1234-5|3")  # metadata dip_id: the receiver's default
    order["events"][0]["metadata"].append({"name": "productie_dip", "value": "NL-24-0001-2|7"})

    def dip_ids(account: str) -> set[str]:
        d, p = _delivery(wh.eventix_delivery(account, SECRET, "order.paid", order), "eventix", account)
        facts = [r.value for r in map_eventix(d, p, env).records]
        return {i.value for f in facts for i in f.identifiers if i.namespace == "dip"}  # type: ignore[attr-defined]

    assert dip_ids("theater-b") == {Identifier.dip("NL-24-0001-2", 7).value}  # its own field, not the default
    assert dip_ids("acme") == {Identifier.dip("NL-23-1234-5", 3).value}  # without its own: webhook.id_fields


@pytest.mark.parametrize("key", ["eventbrite/acme", "eventix", "ticketmatic/x"])
def test_account_id_fields_name_a_vendor_with_custom_fields_and_an_account(key: str) -> None:
    with pytest.raises(ValidationError, match="account_id_fields key"):
        WebhookSettings(account_id_fields={key: {"dip": "dip_id"}})


# -- Eventbrite ------------------------------------------------------------------------
def _eventbrite(api: FakeEventbriteApi, action: str, url: str) -> list[Any]:
    settings = WebhookSettings(eventbrite_tokens={"acme": api.token},
                               eventbrite_api_hosts=(api.host,), fetch_attempts=2)
    env = MappingEnv(settings, ENV.pseudonymiser, ENV.ticket_types)
    d, p = _delivery(wh.eventbrite_delivery("acme", SECRET, action, url), "eventbrite")

    async def run() -> Any:
        client = EventbriteClient(settings)
        try:
            return await map_eventbrite(d, p, env, client)
        finally:
            await client.aclose()

    mapped = asyncio.run(run())
    return [r.value for r in mapped.records]


def _order(n: int = 2, **att: Any) -> dict[str, Any]:
    return wh.eventbrite_order(order_id="1122334455", event_id="98765", attendees=[
        wh.eventbrite_attendee(attendee_id=f"55{i}", event_id="98765", order_id="1122334455", **att)
        for i in range(n)])


def test_an_eventbrite_order_placed_is_fetched_with_attendees_and_sold_per_attendee(
        api: FakeEventbriteApi) -> None:
    url = api.put_order(_order(2, ticket_class_name="Early Bird Korting", price_cents=1950))
    facts = _eventbrite(api, "order.placed", url)
    assert api.requests == ["/v3/orders/1122334455/?expand=attendees"]
    assert [f.event_type for f in facts] == [TicketEventType.SOLD] * 2
    assert [f.ticket_ids for f in facts] == [["550"], ["551"]]
    assert all(f.ticket_type is TicketType.DISCOUNT and f.price_cents == 1950 for f in facts)
    assert facts[0].performance_key == "vendor:eventbrite:acme|98765"
    assert facts[0].order_id == "1122334455"
    assert facts[0].buyer is not None and facts[0].buyer.postcode_area == "1015"
    assert facts[0].buyer.birth_year == 1961


def _kinds(facts: list[TicketEvent]) -> list[tuple[str, TicketEventType]]:
    return [(f.ticket_ids[0], f.event_type) for f in facts]


def _net_sold(facts: list[TicketEvent]) -> int:
    """Tickets sold by the distinct facts (what a consumer deduplicating by fact id counts)."""
    sign = {TicketEventType.SOLD: 1, TicketEventType.REFUNDED: -1, TicketEventType.CANCELLED: -1}
    distinct = {f.fact_id: f for f in facts}
    return sum(sign.get(f.event_type, 0) * f.quantity for f in distinct.values())


def test_an_eventbrite_order_update_maps_refunded_and_cancelled_attendees(api: FakeEventbriteApi) -> None:
    order = _order(3, changed="2025-03-07T09:30:00Z")
    order["attendees"][1]["refunded"] = True
    order["attendees"][2]["cancelled"] = True
    placed = _eventbrite(api, "order.placed", api.put_order(_order(3)))
    updated = _eventbrite(api, "order.updated", api.put_order(order))
    assert _kinds(updated) == [("550", TicketEventType.SOLD), ("551", TicketEventType.SOLD),
                               ("551", TicketEventType.REFUNDED), ("552", TicketEventType.SOLD),
                               ("552", TicketEventType.CANCELLED)]
    sales = [f for f in updated if f.event_type is TicketEventType.SOLD]
    assert [f.fact_id for f in sales] == [f.fact_id for f in placed]  # the sales, once more
    assert all(f.event_time.isoformat() == "2025-03-05T17:58:12+00:00" for f in sales)
    undone = [f for f in updated if f.event_type is not TicketEventType.SOLD]
    assert all(f.event_time.isoformat() == "2025-03-07T09:30:00+00:00" for f in undone)
    assert _net_sold(placed + updated) == 1


def test_an_order_refunded_before_order_placed_was_fetched_yields_the_sale_and_the_refund(
        api: FakeEventbriteApi) -> None:
    url = api.put_order(_order(2, refunded=True, changed="2025-03-06T08:00:00Z"))
    placed = _eventbrite(api, "order.placed", url)
    assert _kinds(placed) == [("550", TicketEventType.SOLD), ("550", TicketEventType.REFUNDED),
                              ("551", TicketEventType.SOLD), ("551", TicketEventType.REFUNDED)]
    assert _net_sold(placed) == 0


def test_order_refunded_yields_the_sale_and_the_refund_of_the_flagged_attendees_only(
        api: FakeEventbriteApi) -> None:
    order = _order(3)
    order["attendees"][0]["refunded"] = True
    refunded = _eventbrite(api, "order.refunded", api.put_order(order))
    assert _kinds(refunded) == [("550", TicketEventType.SOLD), ("550", TicketEventType.REFUNDED)]


def test_order_refunded_with_no_attendee_flagged_refunds_every_attendee(
        api: FakeEventbriteApi) -> None:
    refunded = _eventbrite(api, "order.refunded", api.put_order(_order(2)))
    assert _kinds(refunded) == [("550", TicketEventType.SOLD), ("550", TicketEventType.REFUNDED),
                                ("551", TicketEventType.SOLD), ("551", TicketEventType.REFUNDED)]


@pytest.mark.parametrize("actions", [("order.placed", "order.refunded"),
                                     ("order.refunded", "order.placed"),
                                     ("order.updated", "order.refunded", "order.placed")])
def test_a_refunded_order_nets_to_zero_sold_whatever_the_order_of_the_deliveries(
        api: FakeEventbriteApi, actions: tuple[str, ...]) -> None:
    url = api.put_order(_order(2, refunded=True))
    runs = [_eventbrite(api, action, url) for action in actions]
    facts = [f for run in runs for f in run]
    assert _net_sold(facts) == 0
    assert all({f.fact_id for f in run} == {f.fact_id for f in runs[0]} for run in runs)


def test_an_attendee_cancelled_and_later_refunded_takes_its_sale_back_once(
        api: FakeEventbriteApi) -> None:
    order = _order(1, changed="2025-03-07T09:30:00Z")
    placed = _eventbrite(api, "order.placed", api.put_order(order))
    order["attendees"][0]["cancelled"] = True
    cancelled = _eventbrite(api, "order.updated", api.put_order(order))
    order["attendees"][0].update(refunded=True, changed="2025-03-08T10:00:00Z")
    refunded = _eventbrite(api, "order.refunded", api.put_order(order))
    assert (_kinds(cancelled)[-1], _kinds(refunded)[-1]) == (("550", TicketEventType.CANCELLED),
                                                             ("550", TicketEventType.REFUNDED))
    assert cancelled[-1].fact_id == refunded[-1].fact_id  # one undo: the first to arrive counts
    assert _net_sold(placed + cancelled + refunded) == 0


def test_an_eventbrite_check_in_is_a_scan_of_that_attendee(api: FakeEventbriteApi) -> None:
    att = wh.eventbrite_attendee(attendee_id="777", event_id="98765", order_id="1",
                              checked_in=True, changed="2025-04-20T17:49:00Z")
    facts = _eventbrite(api, "attendee.checked_in", api.put_attendee(att))
    assert len(facts) == 1 and facts[0].event_type is TicketEventType.SCANNED
    assert facts[0].event_time.isoformat() == "2025-04-20T17:49:00+00:00"


def test_an_eventbrite_event_update_is_a_performance_with_its_venue(api: FakeEventbriteApi) -> None:
    url = api.put_event(wh.eventbrite_event(event_id="98765", status="canceled"))
    (perf,) = _eventbrite(api, "event.updated", url)
    assert isinstance(perf, Performance)
    assert perf.status is PerformanceStatus.CANCELLED and perf.capacity == 420
    assert perf.venue.name == "Koninklijke Schouwburg" and perf.venue.city == "Den Haag"
    assert perf.performance_key == "vendor:eventbrite:acme|98765"
    assert api.requests == ["/v3/events/98765/?expand=venue"]


def test_an_api_url_outside_the_allowed_hosts_is_refused_without_fetching(api: FakeEventbriteApi) -> None:
    with pytest.raises(MappingError) as err:
        _eventbrite(api, "order.placed", "http://169.254.169.254/latest/meta-data/")
    assert err.value.field == "api_url" and "not an allowed" in str(err.value)
    assert api.requests == []


def test_a_failing_eventbrite_api_is_retried_a_bounded_number_of_times(api: FakeEventbriteApi) -> None:
    from connectors.ticketing.webhook.errors import FetchFailed

    url = api.put_order(_order(1))
    api.fail(1)
    assert len(_eventbrite(api, "order.placed", url)) == 1  # one failure, then success
    api.fail(None)
    with pytest.raises(FetchFailed) as err:
        _eventbrite(api, "order.placed", url)
    assert "after 2 attempts" in str(err.value) and "HTTP 503" in str(err.value)
    assert len(api.requests) == 2 + 2


def test_stager_declares_its_free_seats_and_sold_out_when_every_ticket_type_is_closed() -> None:
    open_ = _stager(ticket_types=[wh.stager_ticket_type("Regulier", "24.50", 300, 120, 10),
                                  wh.stager_ticket_type("Studenten", "15.00", 50, 0)])
    assert open_.declared is not None
    assert (open_.declared.status, open_.declared.remaining, open_.declared.capacity) == (
        "AVAILABLE", 120, 350)
    closed = _stager(ticket_types=[wh.stager_ticket_type("Regulier", "24.50", 300, 4, 0, True),
                                   wh.stager_ticket_type("Studenten", "15.00", 50, 0)])
    assert closed.declared is not None and closed.declared.status == "SOLD_OUT"
    assert closed.declared.remaining == 4  # the organiser closed sales with seats left
    assert closed.fact_id != _stager(ticket_types=[
        wh.stager_ticket_type("Regulier", "24.50", 300, 4, 0),
        wh.stager_ticket_type("Studenten", "15.00", 50, 0)]).fact_id  # the flag alone is news
