"""Ticketmatic eventstream items -> ticket facts and performances."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from bus.topics import PERFORMANCES, TICKET_EVENTS
from connectors.fakes.ticketmatic import (
    CUSTOMERS,
    event_data,
    event_item,
    order_item,
    order_ticket,
    scan_item,
    webshop_item,
)
from connectors.sdk.errors import MappingError
from connectors.sdk.identifiers import IdFields
from connectors.sdk.privacy import Pseudonymiser
from connectors.ticketing.eventstream.mapping import (
    MappingEnv,
    map_item,
    parse_dip_id,
    redacted_item_bytes,
)
from schemas.models import (
    Identifier,
    Performance,
    PerformanceStatus,
    TicketEvent,
    TicketEventType,
    TicketType,
)

T = datetime(2025, 2, 3, 14, 30, tzinfo=UTC)
SHOW = datetime(2025, 3, 1, 19, 30, tzinfo=UTC)
MARIEKE = CUSTOMERS[0]


@pytest.fixture
def env() -> MappingEnv:
    return MappingEnv("acme", Pseudonymiser(SecretStr("unit-test-secret-0123456789")),
                      pricetypes={"1": TicketType.NORMAL, "2": TicketType.DISCOUNT})


def _facts(item: dict, env: MappingEnv) -> list[TicketEvent]:
    return [r.value for r in map_item(item, env).records]  # type: ignore[misc]


def test_a_confirmed_order_is_one_sale_per_ticket_with_price_and_price_type(env: MappingEnv) -> None:
    item = order_item("1738593000000-0", T, 6421522, [
        order_ticket(128942, 554, pricetypeid=1, price=22.5),
        order_ticket(128943, 554, pricetypeid=2, price=17.25),
        order_ticket(128944, 555, pricetypeid=9, price=0),
    ], customer=MARIEKE, saleschannelid=3)
    facts = _facts(item, env)
    assert [f.event_type for f in facts] == [TicketEventType.SOLD] * 3
    assert [f.quantity for f in facts] == [1, 1, 1]
    assert [f.price_cents for f in facts] == [2250, 1725, 0]
    assert [f.ticket_type for f in facts] == [TicketType.NORMAL, TicketType.DISCOUNT, TicketType.FREE]
    assert [f.ticket_ids for f in facts] == [["128942"], ["128943"], ["128944"]]
    assert {f.order_id for f in facts} == {"6421522"}
    assert facts[0].channel == "saleschannel-3"
    assert facts[0].event_time == T
    assert facts[0].performance_key == "vendor:ticketmatic:acme|554"
    assert facts[2].performance_key == "vendor:ticketmatic:acme|555"
    assert facts[0].fact_id == "ticketmatic:acme:1738593000000-0:128942"


def test_an_unmapped_paid_price_type_gets_the_default_ticket_type(env: MappingEnv) -> None:
    item = order_item("1-0", T, 1, [order_ticket(5, 554, pricetypeid=77, price=30)])
    assert _facts(item, env)[0].ticket_type == TicketType.OTHER


def test_the_buyer_is_pseudonymised_and_no_personal_value_reaches_the_fact(env: MappingEnv) -> None:
    item = order_item("1-0", T, 7, [order_ticket(5, 554, ticketname="Marieke Dijkstra")],
                      customer=MARIEKE)
    fact = _facts(item, env)[0]
    assert fact.buyer is not None
    assert fact.buyer.postcode_area == "3512"
    assert fact.buyer.country == "NL"
    assert fact.buyer.birth_year == 1979
    assert fact.buyer.id_hash == env.pseudonymiser.hash_id("ticketmatic:acme", str(MARIEKE.id))
    text = fact.model_dump_json()
    for value in MARIEKE.personal_values():
        assert value not in text


def test_replaying_an_item_gives_the_same_fact_ids(env: MappingEnv) -> None:
    item = order_item("1738593000000-0", T, 8, [order_ticket(5, 554), order_ticket(6, 554)])
    assert [f.fact_id for f in _facts(item, env)] == [f.fact_id for f in _facts(item, env)]


@pytest.mark.parametrize(("type_", "kind"), [("order:cancelled", TicketEventType.CANCELLED),
                                             ("order:refunded", TicketEventType.REFUNDED)])
def test_cancelled_and_refunded_orders_undo_the_listed_tickets(env: MappingEnv, type_: str,
                                                               kind: TicketEventType) -> None:
    item = order_item("2-0", T, 8, [order_ticket(6, 554, price=25)], type_=type_)
    fact = _facts(item, env)[0]
    assert fact.event_type == kind
    assert fact.price_cents == 2500
    assert fact.ticket_ids == ["6"]


def test_an_entry_scan_is_scanned_at_the_entry_time(env: MappingEnv) -> None:
    entered = datetime(2025, 3, 1, 19, 12, 5, tzinfo=UTC)
    fact = _facts(scan_item("3-0", T, 128942, 554, 6421522, entered=entered), env)[0]
    assert fact.event_type == TicketEventType.SCANNED
    assert fact.event_time == entered
    assert fact.ticket_ids == ["128942"]
    assert fact.performance_key == "vendor:ticketmatic:acme|554"


def test_a_re_entry_after_an_exit_has_the_same_fact_id_so_it_counts_once(env: MappingEnv) -> None:
    first = _facts(scan_item("3-0", T, 128942, 554, 6421522), env)[0]
    again = _facts(scan_item("9-0", T, 128942, 554, 6421522), env)[0]
    assert first.fact_id == again.fact_id


def test_exits_and_unscanned_tickets_are_skipped_not_published(env: MappingEnv) -> None:
    assert map_item(scan_item("3-0", T, 1, 554, 9, status=2), env).skipped == "scan is not an entry"
    assert map_item(scan_item("3-0", T, 1, 554, 9, status=0), env).records == []


def test_an_event_item_is_a_performance_with_capacity_and_its_dip_id(env: MappingEnv) -> None:
    data = event_data(554, "Bonobo Live", SHOW, dip_id="NL-24-0712-3|2",
                      contingents=((89, 840), (90, 60)), locationname="Grote Zaal")
    mapped = map_item(event_item("4-0", T, data), env)
    perf = mapped.records[0].value
    assert isinstance(perf, Performance)
    assert mapped.records[0].topic == PERFORMANCES
    assert perf.title == "Bonobo Live"
    assert perf.start == SHOW
    assert perf.end is not None and perf.end > SHOW
    assert perf.capacity == 900
    assert perf.status == PerformanceStatus.SCHEDULED
    assert perf.venue.name == "Grote Zaal"
    assert perf.performance_key == "vendor:ticketmatic:acme|554"
    assert Identifier.dip("NL-24-0712-3", 2) in perf.identifiers
    assert perf.production_id == "NL-24-0712-3"
    assert mapped.links == {"554": [Identifier.dip("NL-24-0712-3", 2)]}


def test_a_ticketmatic_venue_has_no_address_so_its_country_is_unknown_never_nl(env: MappingEnv) -> None:
    data = event_data(554, "Bonobo Live", SHOW, contingents=((89, 840),), locationname="Grote Zaal")
    perf = map_item(event_item("4-0", T, data), env).records[0].value
    assert isinstance(perf, Performance)
    assert perf.venue.country is None  # a Flemish hall sold through Ticketmatic is not made Dutch


def test_ticket_facts_carry_the_dip_id_once_their_event_was_seen(env: MappingEnv) -> None:
    env.event_ids.update(map_item(event_item("4-0", T, event_data(554, "X", SHOW,
                                                                  dip_id="NL-24-0712-3|2")), env).links)
    fact = _facts(order_item("5-0", T, 1, [order_ticket(5, 554)]), env)[0]
    assert [i.key for i in fact.identifiers] == ["vendor:ticketmatic:acme|554", "dip|NL-24-0712-3|00002"]
    assert fact.performance_key == "vendor:ticketmatic:acme|554"


def test_a_draft_event_is_not_published(env: MappingEnv) -> None:
    mapped = map_item(event_item("4-0", T, event_data(554, "X", SHOW, currentstatus=19001)), env)
    assert mapped.records == [] and mapped.skipped == "draft event"


def test_the_dip_field_name_is_configurable(env: MappingEnv) -> None:
    env.id_fields = IdFields.parse(["dip=c_dip"])
    data = event_data(554, "X", SHOW, dip_id="NL-24-0712-3/2", dip_field="c_dip")
    assert Identifier.dip("NL-24-0712-3", 2) in map_item(event_item("4-0", T, data), env).records[0].value.identifiers  # type: ignore[attr-defined]


@pytest.mark.parametrize(("item", "field"), [
    (order_item("1-0", T, 1, [order_ticket(5, 554, price=-25)]), "data.tickets[0].price"),
    (order_item("1-0", T, 1, []), "data.tickets"),
    (order_item("1-0", T, 1, [{"id": 5, "price": "10"}]), "data.tickets[0].eventid"),
    ({"id": "1-0", "ts": "yesterday", "type": "order:confirmed", "data": {}}, "ts"),
    ({"id": "1-0", "ts": "2025-01-01T10:00:00+0000", "type": "order:confirmed"}, "data"),
])
def test_unmappable_items_raise_a_mapping_error_naming_the_field(env: MappingEnv, item: dict,
                                                                  field: str) -> None:
    with pytest.raises(MappingError) as err:
        map_item(item, env)
    assert err.value.field == field


def test_basket_actions_and_unknown_types_are_skipped(env: MappingEnv) -> None:
    assert map_item(webshop_item("6-0", T, 1), env).skipped == "webshop user-tracking action"
    unknown = {"id": "7-0", "ts": "2025-01-01T10:00:00+0000", "type": "contact:updated", "data": {}}
    assert map_item(unknown, env).skipped == "unknown item type"


def test_ticket_facts_go_to_ticketing_events(env: MappingEnv) -> None:
    mapped = map_item(order_item("1-0", T, 1, [order_ticket(5, 554)]), env)
    assert mapped.records[0].topic == TICKET_EVENTS


def test_dead_letter_bytes_withhold_the_customer_and_ticket_holder_names() -> None:
    item = order_item("1-0", T, 1, [order_ticket(5, 554, ticketname="Marieke Dijkstra")],
                      customer=MARIEKE)
    raw = redacted_item_bytes(item)
    for value in MARIEKE.personal_values():
        assert value.encode() not in raw
    kept = json.loads(raw)
    assert kept["data"]["orderid"] == 1
    assert kept["data"]["customer"]["id"] == MARIEKE.id


def test_dip_ids_parse_with_common_separators() -> None:
    assert parse_dip_id("NL-23-1234-5|3") == Identifier.dip("NL-23-1234-5", 3)
    assert parse_dip_id(" NL-23-1234-5 / 12 ") == Identifier.dip("NL-23-1234-5", 12)
    assert parse_dip_id("") is None


def test_an_unreadable_dip_id_is_counted_and_the_event_still_goes_out_with_its_vendor_id(
        env: MappingEnv) -> None:
    seen: list[str] = []
    env.id_fields = IdFields((("dip", "c_dipid"),), on_unreadable=seen.append)
    mapped = map_item(event_item("4-0", T, event_data(554, "X", SHOW, dip_id="production three")), env)
    assert [i.key for i in mapped.records[0].value.identifiers] == [  # type: ignore[attr-defined]
        "vendor:ticketmatic:acme|554"]
    assert seen == ["dip"]


def test_a_uitdatabank_custom_field_joins_the_event_and_its_sales_to_the_uit_performance(
        env: MappingEnv) -> None:
    uuid = "5f0c7a3e-1b2d-4c8e-9a6f-0d1e2f3a4b5c"
    env.id_fields = IdFields.parse(["uit=c_uitdatabankid", "dip=c_dipid"])
    only_event = event_data(554, "X", SHOW, custom_fields={"uitdatabankid": uuid})
    with_index = event_data(555, "X", SHOW, custom_fields={"uitdatabankid": f"{uuid.upper()}#3"})
    for n, data in enumerate((only_event, with_index)):
        env.event_ids.update(map_item(event_item(f"4-{n}", T, data), env).links)
    sold = _facts(order_item("5-0", T, 1, [order_ticket(5, 554), order_ticket(6, 555)]), env)
    assert [i.key for i in sold[0].identifiers][1:] == [f"uit|{uuid}@{SHOW:%Y-%m-%dT%H:%M}Z"]
    assert [i.key for i in sold[1].identifiers][1:] == [f"uit|{uuid}#3"]


def test_an_event_declares_its_free_seats_summed_over_the_contingents(env: MappingEnv) -> None:
    data = event_data(554, "Bonobo Live", SHOW, contingents=((89, 840), (90, 60)), free=(700, 0))
    perf = map_item(event_item("4-0", T, data), env).records[0].value
    assert isinstance(perf, Performance) and perf.declared is not None
    assert (perf.declared.status, perf.declared.capacity, perf.declared.remaining,
            perf.declared.as_of, perf.declared.source_field) == (
        "AVAILABLE", 900, 700, T, "data.availability[].free")
    sold_out = event_data(555, "Bonobo Live", SHOW, contingents=((89, 840),), free=(0,))
    assert map_item(event_item("4-1", T, sold_out), env).records[0].value.declared.status == "SOLD_OUT"


def test_an_unreadable_free_count_is_a_mapping_error_naming_the_contingent(env: MappingEnv) -> None:
    data = event_data(554, "Bonobo Live", SHOW, contingents=((89, 840), (90, 60)))
    data["availability"][1]["free"] = "veel"
    with pytest.raises(MappingError) as err:
        map_item(event_item("4-0", T, data), env)
    assert err.value.field == "data.availability[1].free"
