"""The bodies of DIP's cumulative calls, validated with field-named errors.

docs/data-sources.md (DIP) gives the calls and what they carry (tickets and revenue per ticket type
``normal | discount | free | other``, reservations and their value, blocked seats and
their value, hall capacity; amounts in cents as DIP's ``recette``); the exact JSON of
the bodies is not public, so these shapes are ours and documented in the OpenAPI:

``PUT .../tickets/cumulative``        ``{"normal": {"tickets": 120, "recette": 360000},
                                      "discount": {...}, "free": {...}, "other": {...},
                                      "updated": "2025-02-01T10:00:00+01:00"}``
``PUT .../reservations/cumulative``   ``{"reservations": 12, "value": 36000, "updated": ...}``
``PUT .../blocked-seats/cumulative``  ``{"blockedSeats": 4, "value": 0, "updated": ...}``
``PUT .../capacity``                  ``{"capacity": 850, "updated": ...}``

``updated`` (optional, with a UTC offset) is when the ticketing system computed the
numbers; without it the time of receipt is used. A ticket type left out of a tickets
call has sold 0 (the call is cumulative). Unknown fields are ignored.

Every number is bounded to what the contract carries (``SalesSnapshot``: counts are Avro
``int``, amounts ``long``), and so are the sums made of them (seats held over the ticket
types, reservations and blocked seats): each count and amount may take a sixth of the
range. A call the contract cannot carry is refused with the input field's name (422)
instead of being acknowledged and dead-lettered. ``updated`` must be an RFC 3339
date-time the contract carries; the receiver then checks it is in the event-time window.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from connectors.sdk.errors import MappingError
from connectors.sdk.jsonbody import BadJson, load_json
from schemas.models import TIMESTAMP_MAX, TIMESTAMP_MIN, TicketType

__all__ = ["CENTS_MAX", "INT_MAX", "LONG_MAX", "PARTS", "SEATS_MAX", "BadJson", "BlockedBody",
           "CapacityBody", "ReservationsBody", "TicketsBody", "TypeLine", "parse_body"]

#: Avro ``int`` and ``long``: the contract's counts and amounts.
INT_MAX = 2**31 - 1
LONG_MAX = 2**63 - 1
#: A snapshot adds up to six counts (four ticket types, reservations, blocked seats) and
#: six amounts; each is bounded to a sixth of the contract's range, so every sum fits too.
SEATS_MAX = INT_MAX // 6
CENTS_MAX = LONG_MAX // 6


#: RFC 3339 ``date-time`` (what the OpenAPI's ``format: date-time`` promises), with an offset.
_RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
                      r"([Zz]|[+-][0-9]{2}:[0-9]{2})")


def _rfc3339(value: Any) -> Any:
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("give an RFC 3339 date-time with an offset, such as "
                         "2025-02-01T10:00:00+01:00")
    return value


def _in_contract(value: datetime) -> datetime:
    """The time in UTC, if the contract's ``timestamp-millis`` fields can carry it."""
    if not TIMESTAMP_MIN <= value <= TIMESTAMP_MAX:
        raise ValueError(f"{value.isoformat()} is outside the times the contract carries "
                         f"({TIMESTAMP_MIN.date()} to {TIMESTAMP_MAX.date()} UTC); send when the "
                         "numbers were computed, with its UTC offset")
    return value.astimezone(UTC)


def _whole(value: Any) -> Any:
    """JSON has one kind of number: ``402.0`` is the integer 402, as JSON Schema's
    ``integer`` says; ``12.5``, ``true`` and ``"402"`` are not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Count = Annotated[int, Field(strict=True, ge=0, le=SEATS_MAX), BeforeValidator(_whole)]
Cents = Annotated[int, Field(strict=True, ge=0, le=CENTS_MAX, description="Euro cents (DIP's recette)"),
                  BeforeValidator(_whole)]
Capacity = Annotated[int, Field(strict=True, ge=0, le=INT_MAX), BeforeValidator(_whole)]
When = Annotated[AwareDatetime, BeforeValidator(_rfc3339), AfterValidator(_in_contract)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)
    updated: When | None = Field(
        default=None, description="When the numbers were computed (ISO-8601 with offset); "
        "refused when before connector.event_time_earliest or more than "
        "connector.event_time_max_ahead_s ahead of the receiver's clock.")


class TypeLine(BaseModel):
    """Cumulative tickets and revenue of one DIP ticket type."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    tickets: Count
    recette: Cents = 0


_TYPES = ("normal", "discount", "free", "other")


class TicketsBody(_Body):
    """``PUT .../tickets/cumulative``: tickets sold and revenue per ticket type."""

    # At least one ticket type given (not null), as the validator below wants.
    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"required": [t], "properties": {t: {"type": "object"}}} for t in _TYPES]})

    normal: TypeLine | None = None
    discount: TypeLine | None = None
    free: TypeLine | None = None
    other: TypeLine | None = None

    @model_validator(mode="after")
    def _some_type(self) -> TicketsBody:
        if all(getattr(self, t) is None for t in _TYPES):
            raise ValueError("give at least one ticket type: normal, discount, free or other")
        return self

    def lines(self) -> dict[str, tuple[int, int]]:
        """Ticket type -> (tickets, revenue cents), every type (absent = 0)."""
        out = {}
        for tt, name in _LINE_FIELDS:
            line: TypeLine | None = getattr(self, name)
            out[tt] = (line.tickets, line.recette) if line else (0, 0)
        return out


#: (ticket type, the body's field of it), in the enum's order.
_LINE_FIELDS = tuple((tt.value, tt.value.lower()) for tt in TicketType)


class ReservationsBody(_Body):
    """``PUT .../reservations/cumulative``: seats reserved and their value."""

    reservations: Count
    value: Cents = 0


class BlockedBody(_Body):
    """``PUT .../blocked-seats/cumulative``: seats blocked and their value."""

    blocked_seats: Count = Field(alias="blockedSeats")
    value: Cents = 0


class CapacityBody(_Body):
    """``PUT .../capacity``: the hall's current capacity."""

    capacity: Capacity


#: path part -> body model
PARTS: dict[str, type[_Body]] = {
    "tickets": TicketsBody,
    "reservations": ReservationsBody,
    "blocked-seats": BlockedBody,
    "capacity": CapacityBody,
}


def parse_body(part: str, raw: bytes) -> Any:
    """The validated body of a ``part`` call.

    Raises:
        BadJson: the body is not a JSON object (not UTF-8, invalid, nested too deep, a
            number too long); ``field`` is ``body``.
        MappingError: with ``field`` naming the offending field.

    """
    data = load_json(raw)
    if not isinstance(data, dict):
        raise BadJson(f"body must be a JSON object, not {type(data).__name__}")
    try:
        return PARTS[part].model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        path = ".".join(str(p) for p in first["loc"]) or "body"
        raise MappingError(f"{path}: {first['msg']}", field=path) from None
