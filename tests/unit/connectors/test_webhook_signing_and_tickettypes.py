"""HMAC signatures of deliveries and the vendor ticket type -> contract ticket type rules."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from bus.settings import load_settings
from connectors.sdk.errors import MappingError
from connectors.ticketing.webhook import TicketTypeMapper, WebhookSettings, sign, verify
from schemas.models import TicketType

SECRET = SecretStr("acme-webhook-secret")
BODY = b'{"order": {"guid": "o-1"}}'


def test_a_signature_made_with_the_secret_over_the_exact_body_verifies() -> None:
    header = sign(SECRET, BODY)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify(SECRET, BODY, header) is None
    assert verify(SECRET, BODY, header.removeprefix("sha256=")) is None  # bare hex accepted
    assert verify(SECRET, BODY, header.upper().replace("SHA256=", "sha256=")) is None


@pytest.mark.parametrize(("body", "header", "says"), [
    (BODY, None, "missing X-Signature"),
    (BODY, "", "missing X-Signature"),
    (BODY + b" ", sign(SECRET, BODY), "does not match"),
    (BODY, sign("another-secret", BODY), "does not match"),
    (BODY, "sha256=nothex", "does not match"),
])
def test_a_missing_or_wrong_signature_is_refused_with_a_reason(body: bytes, header: str | None,
                                                                says: str) -> None:
    problem = verify(SECRET, body, header)
    assert problem is not None and says in problem


def test_secrets_are_looked_up_per_account_then_per_vendor() -> None:
    s = WebhookSettings(secrets={"eventix/acme": "a" * 20, "stager": "s" * 20})
    assert s.secret_for("eventix", "acme").get_secret_value() == "a" * 20
    assert s.secret_for("eventix", "other") is None
    assert s.secret_for("stager", "any-venue").get_secret_value() == "s" * 20


def test_secrets_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CULTUURBUS_WEBHOOK__SECRETS", '{"eventix/acme": "from-env-secret"}')
    monkeypatch.setenv("CULTUURBUS_WEBHOOK__STRICT_TICKET_TYPES", "true")
    s = load_settings().webhook
    assert s.secret_for("eventix", "acme").get_secret_value() == "from-env-secret"
    assert s.strict_ticket_types is True
    assert "from-env-secret" not in repr(s)


@pytest.mark.parametrize(("name", "price", "expected"), [
    ("Regulier", 2750, TicketType.NORMAL),
    ("Standaard tarief", 2000, TicketType.NORMAL),
    ("General Admission", 2500, TicketType.NORMAL),
    ("CJP korting", 2250, TicketType.DISCOUNT),
    ("Studenten", 1500, TicketType.DISCOUNT),
    ("Senioren 65+", 2200, TicketType.DISCOUNT),
    ("Student discount", 1200, TicketType.DISCOUNT),
    ("Studentenkorting", 1250, TicketType.DISCOUNT),  # Dutch compounds
    ("Kinderkaart", 900, TicketType.DISCOUNT),
    ("Volwassenenkaart", 2750, TicketType.NORMAL),
    ("Vrijkaart", 0, TicketType.FREE),
    ("Regulier", 0, TicketType.FREE),  # price 0 is free whatever the name
    ("Comp", 500, TicketType.FREE),
    ("Rolstoelplaats", 2750, TicketType.OTHER),
    ("Compleet arrangement", 9000, TicketType.OTHER),  # "comp" only as a word
])
def test_default_rules_map_common_dutch_and_english_names(name: str, price: int,
                                                          expected: TicketType) -> None:
    assert TicketTypeMapper()(name, price, field="t") is expected


def test_configured_names_win_over_the_keyword_rules_case_insensitively() -> None:
    mapper = TicketTypeMapper({"Regulier": TicketType.OTHER, "Passe-partout": TicketType.DISCOUNT})
    assert mapper("regulier", 2750, field="t") is TicketType.OTHER
    assert mapper("PASSE-PARTOUT", 1800, field="t") is TicketType.DISCOUNT


def test_strict_mode_refuses_an_unknown_name_and_names_it_and_its_field() -> None:
    mapper = TicketTypeMapper(strict=True)
    assert mapper("Regulier", 2750, field="t") is TicketType.NORMAL
    with pytest.raises(MappingError) as err:
        mapper("Rolstoelplaats", 2750, field="order.tickets[1].ticket_name")
    assert "Rolstoelplaats" in str(err.value)
    assert err.value.field == "order.tickets[1].ticket_name"
