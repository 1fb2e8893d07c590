"""The drivers render the season in shapes the real connectors map back to the season's
numbers and identifiers (no services: the connectors' mapping functions are called
directly on what the drivers would deliver)."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from pydantic import SecretStr

from connectors.calendar.uitdatabank.mapping import map_event
from connectors.sdk.privacy import Pseudonymiser
from connectors.simulator.drivers.base import Env
from connectors.simulator.drivers.boxoffice import HEADER, BoxOfficeDriver
from connectors.simulator.drivers.dipcalendar import DipCalendarDriver
from connectors.simulator.drivers.eventix import EventixDriver
from connectors.simulator.drivers.render import TICKET_NAMES, calendar_modified, tags_of
from connectors.simulator.drivers.stager import StagerDriver
from connectors.simulator.drivers.ticketmatic import PRICETYPES, TicketmaticDriver
from connectors.simulator.drivers.uitdatabank import UitdatabankDriver
from connectors.simulator.drivers.venuepages import IcalDriver, SchemaOrgDriver
from connectors.simulator.granularity import dip_calls
from connectors.simulator.model import Season
from connectors.simulator.season import LOCAL_TZ
from connectors.simulator.truth import compute_truth, vendor_identifier
from connectors.ticketing.csvfile.columns import map_header
from connectors.ticketing.csvfile.mapping import RowEnv, map_row
from connectors.ticketing.dip.book import Parts
from connectors.ticketing.dip.calendar_mapping import map_performance
from connectors.ticketing.dip.payloads import parse_body
from connectors.ticketing.eventstream.mapping import MappingEnv as TmEnv
from connectors.ticketing.eventstream.mapping import map_item
from connectors.ticketing.webhook.eventix import map_eventix
from connectors.ticketing.webhook.facts import Delivery, MappingEnv
from connectors.ticketing.webhook.settings import WebhookSettings
from connectors.ticketing.webhook.signing import verify
from connectors.ticketing.webhook.stager import map_stager
from connectors.ticketing.webhook.tickettypes import TicketTypeMapper
from schemas.models import TicketType
from tests.support.simulator import NOW, season_fixtures

_TARIFF = {"regulier": "NORMAL", "cjp": "DISCOUNT", "vrijkaart": "FREE", "overig": "OTHER"}
PSEUDO = Pseudonymiser(SecretStr("unit-test-secret-0123456789"))

# These tests check the "linked" mode's conventions (canonical id in every ticket fact,
# vendor ids in UiT labels and venue pages, X-CULTUURBUS-ID); what the drivers render
# by real rules (the default) is checked in test_simulator_realism.
season, env = season_fixtures(venues=8, productions=12, performances=60, identifiers="linked")


@pytest.fixture(scope="module")
def truth(season: Season) -> dict:  # type: ignore[type-arg]
    return compute_truth(season)


def _webhook_env() -> MappingEnv:
    return MappingEnv(WebhookSettings(secrets={"eventix": SecretStr("x")}), PSEUDO,
                      TicketTypeMapper({TICKET_NAMES["OTHER"]: TicketType.OTHER}, strict=True))


def _delivery(req, account: str) -> Delivery:  # type: ignore[no-untyped-def]
    return Delivery("x", account, {k.lower(): v for k, v in req.headers.items()}, req.body, NOW, "r")


def test_eventix_deliveries_are_signed_and_map_back_to_one_fact_per_ticket_with_the_canonical_id(
        env: Env, season: Season) -> None:
    driver = EventixDriver(env)
    units = driver.units()
    kinds = Counter(u.payload.event_type for u in units)
    assert {"SOLD", "SCANNED", "REFUNDED"} <= set(kinds)
    for u in units[:300]:
        perf = season.performance(u.perf)
        req = driver._request(perf, u.payload, env.webhook_secret)
        assert verify(SecretStr(env.webhook_secret), req.body, req.headers["X-Signature"],
                      trigger=req.headers["OpenTicket-Trigger"]) is None
        mapped = map_eventix(_delivery(req, perf.account), json.loads(req.body), _webhook_env())
        assert len(mapped.records) == u.facts
        for r in mapped.records:
            fact = r.value
            keys = {i.key for i in fact.identifiers}  # type: ignore[attr-defined]
            assert perf.canonical_id in keys
            assert fact.event_type.value == u.payload.event_type  # type: ignore[attr-defined]
            assert fact.ticket_type.value == u.payload.ticket_type  # type: ignore[attr-defined]
            assert fact.event_time == u.payload.event_time  # type: ignore[attr-defined]


def test_stager_pushes_read_back_as_the_seasons_snapshots(env: Env, season: Season) -> None:
    driver = StagerDriver(env)
    units = driver.units()
    assert units
    for u in units:
        perf = season.performance(u.perf)
        req = driver._request(perf, u.payload, env.webhook_secret)
        (record,) = map_stager(_delivery(req, perf.account), json.loads(req.body),
                               _webhook_env()).records
        snap = record.value
        got = {line.ticket_type.value: (line.tickets, line.revenue_cents)
               for line in snap.lines if line.tickets}  # type: ignore[attr-defined]
        want = {line.ticket_type: (line.tickets, line.revenue_cents) for line in u.payload.lines
                if line.tickets}
        assert got == want
        assert snap.reservations == u.payload.reservations  # type: ignore[attr-defined]
        assert snap.capacity == perf.capacity  # type: ignore[attr-defined]
        assert perf.canonical_id in {i.key for i in snap.identifiers}  # type: ignore[attr-defined]


def test_ticketmatic_feed_starts_with_the_event_item_that_links_vendor_id_to_dip_id(
        env: Env, season: Season) -> None:
    driver = TicketmaticDriver(env)
    units = driver.units()
    ids = [u.payload["id"] for u in units]
    assert ids == sorted(ids, key=lambda i: tuple(int(x) for x in i.split("-")))
    tm = {str(v): TicketType(k) for k, v in PRICETYPES.items()}
    envs: dict[str, TmEnv] = {}
    seen_event: set[str] = set()
    for u in units:
        perf = season.performance(u.perf)
        e = envs.setdefault(perf.account, TmEnv(perf.account, PSEUDO, tm))
        mapped = map_item(u.payload, e)
        e.event_ids.update(mapped.links)
        assert len(mapped.records) == u.facts
        if u.payload["type"] == "event:updated":
            seen_event.add(u.perf)
            (r,) = mapped.records
            assert {i.key for i in r.value.identifiers} == {  # type: ignore[attr-defined]
                perf.canonical_id, vendor_identifier(perf).key}  # type: ignore[union-attr]
            assert r.value.capacity == perf.capacity  # type: ignore[attr-defined]
        else:
            assert u.perf in seen_event


def test_dip_calls_merged_as_the_receiver_merges_them_give_the_final_snapshot(season: Season) -> None:
    perfs = [p for p in season.performances if p.ticketing == "dip-cumulative"]
    assert perfs
    for p in perfs:
        snaps = [s for s in season.snapshots if s.performance == p.canonical_id]
        parts = Parts()
        stamps = []
        for calls in dip_calls(snaps):
            for call in calls:
                body = parse_body(call.part, json.dumps({**call.body,
                                                         "updated": call.updated.isoformat()}).encode())
                parts = parts.with_body(call.part, body)
                stamps.append(call.updated)
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
        last = snaps[-1]
        assert parts.capacity == p.capacity
        assert sum(t for t, _ in (parts.lines or {}).values()) == last.sold
        assert (parts.reservations or (0, 0))[0] == last.reservations
        assert (parts.blocked or (0, 0))[0] == last.blocked_seats


def test_box_office_rows_read_back_with_dip_id_in_nl_and_only_the_vendor_id_in_flanders(
        env: Env, season: Season) -> None:
    driver = BoxOfficeDriver(env)
    columns = map_header(HEADER)
    countries = set()
    for u in driver.units():
        perf = season.performance(u.perf)
        country = season.venue(perf.venue).country
        countries.add(country)
        assert len(u.payload) == u.facts
        for row in u.payload:
            fact = map_row(row, columns, RowEnv(perf.account, PSEUDO, LOCAL_TZ))
            keys = {i.key for i in fact.identifiers}
            assert vendor_identifier(perf).key in keys  # type: ignore[union-attr]
            assert (perf.canonical_id in keys) == (country == "NL")
            assert fact.ticket_type.value == _TARIFF[row[HEADER.index("tarief")]]
            assert fact.buyer is not None and fact.buyer.postcode_area is not None
    assert countries == {"NL", "BE"}


def test_calendars_carry_the_canonical_id_and_the_vendor_id_of_every_performance(
        env: Env, season: Season) -> None:
    covered: Counter[str] = Counter()
    for u in DipCalendarDriver(env).units():
        production, perfs = u.payload
        for perf in perfs:
            fact = map_performance(production, perf, account="dip")
            covered[fact.performance_key] += 1
            sim = season.performance(fact.performance_key)
            assert fact.capacity == sim.capacity
            assert fact.status.value == ("CANCELLED" if sim.status == "CANCELLED" else "SCHEDULED")
    for u in UitdatabankDriver(env).units():
        mapped = map_event(u.payload, account="uit")
        assert not mapped.failures
        for fact in mapped.performances:
            covered[fact.performance_key] += 1
            sim = season.performance(fact.performance_key)
            assert fact.status.value == sim.status and fact.capacity == sim.capacity
            vendor = vendor_identifier(sim)
            assert vendor is None or vendor in fact.identifiers
    for driver in (SchemaOrgDriver(env), IcalDriver(env)):
        for u in driver.units():
            venue, perfs = u.payload
            path, body, ctype = driver._document(venue, perfs)
            source = driver._source(venue, "http://127.0.0.1:9" + path)
            entries = source.entries(body.encode(), ctype, NOW)  # type: ignore[attr-defined]
            source.close()  # type: ignore[attr-defined]
            assert len(entries) == len(perfs)
            for entry, sim in zip(sorted(entries, key=lambda e: e.item.value.start),
                                  perfs, strict=True):
                keys = {i.key for i in entry.item.value.identifiers}
                assert all(_tag_key(t) in keys for t in tags_of(sim))
                covered[sim.canonical_id] += 1
    for p in season.performances:
        assert covered[p.canonical_id] == len(p.calendars), p.canonical_id


def _tag_key(tag: str) -> str:
    ns, _, rest = tag.partition(":")
    if ns == "vendor":
        system, account, local = rest.split(":", 2)
        return f"vendor:{system}:{account}|{local}"
    return f"{ns}|{rest}"


def test_the_authoritative_calendar_is_the_newest_and_a_postponement_is_newest_where_it_can_be_said(
        season: Season) -> None:
    for p in season.performances:
        dip_or_uit = "dip-calendar" if p.dip_number is not None else "uitdatabank"
        times = {k: calendar_modified(p, k) for k in (dip_or_uit, "schemaorg", "ical", "ticketmatic")}
        if p.status == "POSTPONED":
            sayers = [k for k in ("uitdatabank", "schemaorg") if k in p.calendars]
            assert sayers
            assert max(times, key=lambda k: (times[k], k in sayers)) in sayers
        else:
            assert times[dip_or_uit] > times["schemaorg"] > times["ical"] > times["ticketmatic"]
        assert max(times.values()) <= NOW

