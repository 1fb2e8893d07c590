"""Pieces every vendor mapping shares: stable fact ids, identifiers from custom fields,
field paths for validation errors, and the contract's limits applied to input fields.

A mapping raises ``MappingError`` (naming the input field) for anything it cannot
turn into a fact; it never lets the contract's ``ValidationError`` or a bare
``ValueError``/``OverflowError`` out: ``contract()`` builds a fact and names the input
field behind a refused contract field, ``check_time`` refuses event times outside the
configured window at the input field.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, ValidationError

from bus.log import get_logger
from bus.ranges import TIME_MAX_MS, TIME_MIN_MS
from connectors.sdk.errors import MappingError
from connectors.sdk.identifiers import IdFields
from connectors.sdk.privacy import Pseudonymiser
from connectors.sdk.records import SourceRecord
from connectors.sdk.window import EventTimeWindow
from connectors.ticketing.webhook.settings import WebhookSettings
from connectors.ticketing.webhook.tickettypes import TicketTypeMapper
from schemas.models import Identifier

__all__ = ["FACT_NAMESPACE", "INT_MAX", "LONG_MAX", "Delivery", "Mapped", "MappingEnv", "Time",
           "VendorModel", "check_carried", "check_time", "contract", "custom_identifiers", "fact_id", "parse",
           "to_cents"]

#: Avro ``int`` and ``long`` upper bounds: input counts and amounts are held to these.
INT_MAX = 2**31 - 1
LONG_MAX = 2**63 - 1
M = TypeVar("M", bound=BaseModel)
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _iso_text(value: Any) -> Any:
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO.match(value)):
        return value
    raise ValueError("expected an ISO 8601 date-time text with an offset, such as "
                     "2025-03-01T19:02:11+01:00")


#: A vendor's date-time: ISO 8601 text with an offset, as the OpenAPI document says
#: (pydantic alone would also take a number, or digits, as seconds since 1970).
Time = Annotated[AwareDatetime, BeforeValidator(_iso_text)]


class VendorModel(BaseModel):
    """A vendor body's part as read: unknown fields ignored (vendors add them), frozen."""

    model_config = ConfigDict(extra="ignore", frozen=True)

log = get_logger(__name__)

#: uuid5 namespace of webhook fact ids (fixed forever: changing it changes every id).
FACT_NAMESPACE = uuid.UUID("7d3c8a52-2f0e-5b7e-9c41-6a1f0e3b9d27")
_NAMESPACE_BYTES = FACT_NAMESPACE.bytes


def fact_id(*parts: object) -> str:
    r"""A stable id from the vendor's identity of one occurrence (same parts, same id):
    ``str(uuid.uuid5(FACT_NAMESPACE, "\x1f".join(parts)))``, spelt out (``uuid.UUID``'s
    Python constructor was a tenth of mapping an order)."""
    name = "\x1f".join(str(p) for p in parts).encode()
    raw = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name, usedforsecurity=False).digest()[:16])
    raw[6] = raw[6] & 0x0F | 0x50  # version 5
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True)
class Delivery:
    """One authenticated webhook request, body still raw."""

    vendor: str
    account: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    received_at: datetime
    request_id: str
    trigger: str | None = None  # the trigger header the signature covers (Eventix)

    def header(self, *names: str) -> str | None:
        for name in names:
            value = self.headers.get(name.lower())
            if value:
                return value.strip()
        return None


@dataclass(frozen=True)
class MappingEnv:
    """What a mapping may use besides the delivery."""

    settings: WebhookSettings
    pseudonymiser: Pseudonymiser
    ticket_types: TicketTypeMapper
    window: EventTimeWindow | None = None  # the receiver's; None in mapping-only tests
    #: the custom fields holding sector ids (the receiver's counts unreadable values);
    #: None: ``settings.id_fields``, uncounted (mapping-only tests)
    id_fields: IdFields | None = None
    #: ``"vendor/account"`` -> that account's own fields (``settings.account_id_fields``)
    account_id_fields: Mapping[str, IdFields] = field(default_factory=dict)

    def fields_for(self, account: str) -> IdFields:
        """The custom fields of ``account`` (``"vendor/account"``): its own
        (``webhook.account_id_fields``), else the receiver's (``webhook.id_fields``)."""
        own = self.account_id_fields.get(account)
        if own is not None:
            return own
        spec = self.settings.account_id_fields.get(account)
        if spec is not None:
            return IdFields.of(spec)
        return self.id_fields or IdFields.of(self.settings.id_fields)


@dataclass
class Mapped:
    """The facts of one delivery and the key that recognises its replays."""

    records: list[SourceRecord]
    delivery_key: str
    what: str  # e.g. "order.paid", for logs and the answer
    extra: dict[str, Any] = field(default_factory=dict)


def _loc(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def parse(model: type[BaseModel], payload: Any, prefix: str = "") -> Any:
    """``model.model_validate(payload)``, or a MappingError naming the first bad field.

    Messages say what was expected, never the value sent (it may be personal data).
    """
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        first = errors[0]
        path = _loc(first["loc"])
        path = f"{prefix}.{path}" if prefix and path != "body" else (prefix or path)
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        kind = "missing field" if first["type"] == "missing" else "wrong value"
        raise MappingError(f"{kind} {path}: {first['msg']}{more}", field=path) from None


def to_cents(amount: Any, field_path: str) -> int:
    """Euros as number or decimal text -> whole cents (at most what an Avro long holds)."""
    try:
        cents = (Decimal(str(amount)) * 100).quantize(Decimal(1))
    except (InvalidOperation, ValueError, ArithmeticError):
        raise MappingError(f"wrong value {field_path}: expected an amount such as 27.50",
                           field=field_path) from None
    if not cents.is_finite() or abs(cents) > LONG_MAX:
        raise MappingError(f"wrong value {field_path}: the amount is over what the contract "
                           "carries (2^63-1 cents)", field=field_path)
    return int(cents)


def check_time(env: MappingEnv, when: datetime, field_path: str) -> None:
    """Refuse (MappingError naming ``field_path``) an event time outside the window."""
    if env.window is not None:
        env.window.check(when, field_path)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def check_carried(when: datetime, field_path: str) -> None:
    """Refuse a time (not an event time: a show's start, say) no role can carry
    (``bus.ranges``), naming ``field_path``."""
    try:
        ms = (when - _EPOCH) // timedelta(milliseconds=1)
    except OverflowError:
        ms = TIME_MIN_MS - 1
    if not TIME_MIN_MS <= ms <= TIME_MAX_MS:
        last = (_EPOCH + timedelta(milliseconds=TIME_MAX_MS)).year
        raise MappingError(f"wrong value {field_path}: time {when.isoformat()} is outside what "
                           f"every reader of the bus can carry (1970 to {last})", field=field_path)


def contract(model: type[M], inputs: Mapping[str, str], /, **values: Any) -> M:
    """``model(**values)``, or a MappingError naming the input field behind the contract
    field the contract refused.

    Args:
        model: the contract model (a fact, or a part of one).
        inputs: contract field -> the input field path it was read from; a contract
            field not in it is reported as ``body``.
        **values: the fields.

    """
    try:
        return model(**values)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        loc = [str(p) for p in first["loc"]]
        where = (inputs.get(loc[0]) if loc else None) or "body"
        refused = ".".join([model.__name__, *loc])
        raise MappingError(f"wrong value {where}: the contract refuses it as {refused}: "
                           f"{first['msg']}", field=where) from None


def custom_identifiers(fields: Mapping[str, Any], env: MappingEnv, start: datetime | None,
                       where: str, account: str) -> list[Identifier]:
    """DIP and UiT identifiers from a vendor's custom event fields (name -> value), as
    the account's (``"vendor/account"``) ``settings.account_id_fields`` or else
    ``settings.id_fields`` names them (``connectors.sdk.identifiers``); ``start`` is the
    vendor's start of the event, for a UiT id that names only the event.

    A value that cannot be read is logged, counted (when the receiver's ``env.id_fields``
    counts) and left out: a venue's typo in a custom field must not hold back the sale
    itself, which still carries the vendor id.
    """
    return env.fields_for(account).extract(fields, start, where)
