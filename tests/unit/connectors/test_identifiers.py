"""Sector ids in vendor fields and ticket-shop links: the forms venues really type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import click
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from connectors.sdk.identifiers import IdFields, parse_dip, parse_uit
from connectors.sdk.shopurls import shop_identifiers
from schemas.models import Identifier

PROPS = settings(max_examples=200, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow])
UUID = "5f0c7a3e-1b2d-4c8e-9a6f-0d1e2f3a4b5c"
START = datetime(2026, 12, 4, 20, 30, 45, tzinfo=timezone(timedelta(hours=1)))
uuids = st.uuids().map(str)
numbers = st.integers(0, 99_999)
productions = st.from_regex(r"[A-Za-z]{2}-[0-9]{2}-[0-9]{1,4}-[0-9]{1,2}", fullmatch=True)


@pytest.mark.parametrize("text", [
    UUID, UUID.upper(), f" {UUID} ", f"https://io.uitdatabank.be/event/{UUID}",
    f"https://io-test.uitdatabank.be/events/{UUID}/", f"http://io.uitdatabank.be/event/{UUID}",
    f"https://www.uitinvlaanderen.be/agenda/e/de-kersentuin/{UUID}",
])
def test_an_event_id_alone_in_any_typed_form_is_matched_on_the_vendor_start(text: str) -> None:
    assert parse_uit(text, START) == Identifier.uit_at(UUID, START)
    assert parse_uit(text, START).value == f"{UUID}@2026-12-04T19:30Z"


@pytest.mark.parametrize("text", [f"{UUID}#2", f"{UUID.upper()} # 2",
                                  f"https://io.uitdatabank.be/event/{UUID}#2"])
def test_an_event_id_with_its_subevent_index_is_that_subevent(text: str) -> None:
    assert parse_uit(text, None) == Identifier.uit(UUID, 2)


@pytest.mark.parametrize("text", [
    "", "5f0c7a3e", f"https://example.com/event/{UUID}", f"https://io.uitdatabank.be/place/{UUID}",
    f"{UUID}#x", f"ftp://io.uitdatabank.be/event/{UUID}"])
def test_what_is_no_uitdatabank_event_id_is_a_clear_error(text: str) -> None:
    with pytest.raises(ValueError, match="UiTdatabank event id"):
        parse_uit(text, START)


def test_an_event_id_without_a_start_is_not_guessed_as_subevent_zero() -> None:
    with pytest.raises(ValueError, match="not which date"):
        parse_uit(UUID, None)


@PROPS
@given(productions, numbers, st.sampled_from(["|", "/", "#", " ", " | "]), st.integers(0, 3))
def test_every_spelling_of_a_dip_id_is_one_canonical_key(prod: str, n: int, sep: str,
                                                         pad: int) -> None:
    typed = parse_dip(f"{prod.lower()}{sep}{str(n).zfill(len(str(n)) + pad)}")
    assert typed == parse_dip(f"{prod.upper()}|{n}") == Identifier.dip(prod, n)
    assert typed.value == f"{prod.upper()}|{n:05d}"


@PROPS
@given(uuids, st.integers(0, 10_000), st.datetimes(timezones=st.just(UTC)))
def test_uit_forms_are_lower_case_and_minute_precise(uuid: str, index: int, start: datetime) -> None:
    assert Identifier.uit(uuid.upper(), index) == Identifier.uit(uuid, index)
    at = Identifier.uit_at(uuid.upper(), start)
    assert at == Identifier.uit_at(uuid, start.replace(second=0, microsecond=0))
    assert at.value == f"{uuid}@{start:%Y-%m-%dT%H:%M}Z"


@pytest.mark.parametrize(("production", "number"), [
    ("", 1), ("NL-1", -1), ("NL-1", 100_000), ("NL-1", True), ("NL-1", "3a"), ("A|B", 1),
    ("NL 1", 1), ("NL\u00a01", 1), ("NL\u20031", 1), ("NL\t1", 1), ("NL\u00001", 1),
    ("NL\u200b1", 1)])
def test_a_dip_id_that_is_not_one_is_a_value_error(production: str, number: int | str) -> None:
    with pytest.raises(ValueError, match="DIP"):
        Identifier.dip(production, number)


def test_identifier_forms_refuse_what_would_never_meet() -> None:
    with pytest.raises(ValueError, match="uuid"):
        Identifier.uit("event-12", 0)
    with pytest.raises(ValueError, match="time zone"):
        Identifier.uit_at(UUID, datetime(2026, 12, 4, 19, 30))  # noqa: DTZ001 - the point
    assert Identifier.vendor_global("eventbrite", 7).key == "vendor:eventbrite|7"


@pytest.mark.parametrize("spec", ["uit", "uit=", "=c_x", "vendor=c_x", "dip:c_dipid"])
def test_a_wrong_id_field_spec_names_the_spec_and_the_valid_form(spec: str) -> None:
    with pytest.raises(click.BadParameter) as err:
        IdFields.parse([spec])
    assert repr(spec) in err.value.message and "NAMESPACE=FIELD" in err.value.message


def test_unreadable_values_are_counted_and_readable_ones_still_extracted() -> None:
    registry = CollectorRegistry()
    fields = IdFields.parse(["uit=c_uitdatabankid", "DIP=c_dipid"]).counting(registry, "tm")
    got = fields.extract({"c_uitdatabankid": "see website", "c_dipid": "nl-23-1234-5|3"}, START,
                         "data")
    assert got == [Identifier.dip("NL-23-1234-5", 3)]
    assert registry.get_sample_value("cultuurbus_connector_identifiers_unreadable_total",
                                     {"connector": "tm", "namespace": "uit"}) == 1


@pytest.mark.parametrize(("url", "expected"), [
    ("https://apps.ticketmatic.com/widgets/deschouwburg/addtickets?event=1269434,1269435&l=nl"
     "&accesskey=abc&signature=def",
     [Identifier.vendor("ticketmatic", "deschouwburg", 1269434),
      Identifier.vendor("ticketmatic", "deschouwburg", 1269435)]),
    ("https://tickets.mywebsite.com/widgets/deschouwburg/flow/default?event=1269434&l=nl",
     [Identifier.vendor("ticketmatic", "deschouwburg", 1269434)]),
    ("https://www.eventbrite.nl/e/de-kersentuin-tickets-769789610447?aff=ebdssbdestsearch",
     [Identifier.vendor_global("eventbrite", 769789610447)]),
    ("https://www.eventbrite.co.uk/e/769789610447", [Identifier.vendor_global("eventbrite", 769789610447)]),
    ("https://www.eventbrite.com/myevent?eid=769789610447",
     [Identifier.vendor_global("eventbrite", 769789610447)]),
    ("https://deschouwburg.stager.co/shop/default/events/111493445",
     [Identifier.vendor("stager", "deschouwburg", 111493445)]),
    ("https://shop.eventix.io/0c8c7e0e-8a3b-4c5d-9e6f-1a2b3c4d5e6f", []),
    ("https://eventbrite.example.com/e/x-tickets-769789610447", []),
    ("https://tickets.example.be/5f0c7a3e", []), ("not a url", []), ("http://[::1", []),
])
def test_a_known_vendor_shop_link_names_its_event_and_anything_else_nothing(
        url: str, expected: list[Identifier]) -> None:
    assert shop_identifiers(url) == expected


@PROPS
@given(st.text(max_size=300))
def test_no_text_makes_the_link_and_id_parsers_crash(text: str) -> None:
    shop_identifiers(text)
    for parse in (lambda: parse_uit(text, START), lambda: parse_dip(text)):
        try:
            parse()
        except ValueError:
            pass
