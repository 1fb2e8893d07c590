"""One box-office row -> one ``TicketEvent`` (pure functions), and its privacy-safe bytes
for a dead letter.

``fact_id`` is ``boxoffice:<venue>:<order id>:<ticket id>:<action>``: the same sale,
refund, cancellation or scan in any later export (or a second import of the same
file) has the same id, so downstream counts it once. The performance key is the
venue's event id (``vendor:boxoffice:<venue>|<event id>``); a column per sector
namespace adds its id (``dip_id``: ``Identifier.dip``; ``uit_id``: a UiTdatabank id,
``uuid#n``, or the event id alone matched on ``performance_start``; see
``connectors.sdk.identifiers``). With an event id, an unreadable sector id is logged and
counted and the sale still goes out; without one, the sector id is the key and an
unreadable one refuses the row.

Amounts accept ``25.00``, ``25,00``, ``€ 1.234,50``; a negative amount is refused (a
refund row carries the ticket's price and the action ``refund``). Dates accept ISO
(``2025-03-01T20:15:00``, ``2025-03-01 20:15``) and Dutch day-first forms
(``01-03-2025 20:15``, ``1/3/2025``); times without an offset are in ``tz``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from connectors.sdk.amounts import cents
from connectors.sdk.countries import iso_country_or_none
from connectors.sdk.errors import MappingError
from connectors.sdk.identifiers import IdFields, parse_dip, parse_uit
from connectors.sdk.privacy import Pseudonymiser
from connectors.sdk.window import EventTimeWindow
from connectors.ticketing.csvfile.columns import ACTIONS, PERSONAL, TICKET_TYPES, normalise
from schemas.models import Identifier, TicketEvent, TicketEventType, TicketType, utcnow

__all__ = ["ID_COLUMNS", "SYSTEM", "RowEnv", "map_row", "parse_amount", "parse_when", "redacted_row"]

SYSTEM = "boxoffice"
_FORMATS = ("%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M", "%d-%m-%Y", "%d/%m/%Y %H:%M:%S",
            "%d/%m/%Y %H:%M", "%d/%m/%Y", "%d.%m.%Y %H:%M", "%d.%m.%Y")
#: The sector id columns of a box-office export (canonical names, see ``columns``).
ID_COLUMNS = IdFields((("dip", "dip_id"), ("uit", "uit_id")))
#: A dead-lettered row carries at most this many bytes (Kafka's default limit is 1 MiB).
MAX_DEAD_LETTER_BYTES = 512 * 1024
#: Contract field -> the column its value came from, for errors the contract raises.
_COLUMN_OF = {"event_time": "sold_at", "price_cents": "price", "currency": "currency",
              "channel": "channel", "order_id": "order_id", "ticket_ids": "ticket_id",
              "fact_id": "ticket_id", "buyer": "customer_id", "identifiers": "event_id",
              "performance_key": "event_id"}


@dataclass
class RowEnv:
    """What mapping a row needs besides the row.

    Args:
        venue: the venue/account the export comes from.
        pseudonymiser: turns customers into buyers.
        tz: zone of times without an offset.
        currency: of every amount.
        ticket_types: extra labels -> ticket type (normalised labels), before the built-ins.
        id_fields: the columns holding sector ids (``ID_COLUMNS``; may count unreadable ones).
        window: the event-time window a row's ``sold_at`` must fall in (none: not checked
            here; the publisher still refuses facts outside its window).

    """

    venue: str
    pseudonymiser: Pseudonymiser
    tz: tzinfo
    currency: str = "EUR"
    ticket_types: dict[str, TicketType] = field(default_factory=dict)
    window: EventTimeWindow | None = None
    id_fields: IdFields = ID_COLUMNS


def _sector_ids(row: dict[str, str], env: RowEnv, start: datetime | None,
                strict: bool) -> list[Identifier]:
    if not strict:
        return env.id_fields.extract(row, start, "row")
    out = []
    for ns, column in env.id_fields.fields:
        text = _get(row, column)
        if text:
            try:
                out.append(parse_dip(text) if ns == "dip" else parse_uit(text, start))
            except ValueError as exc:
                raise MappingError(f"{column}: {exc}", field=column) from None
    return out


def parse_amount(text: str, path: str = "price") -> int:
    """Cents of an amount written the Dutch or the English way; refuses negatives."""
    s = text.strip().replace("€", "").replace("EUR", "").replace(" ", "").replace("\u00a0", "")
    if not s:
        return 0
    negative = s.startswith("-") or (s.startswith("(") and s.endswith(")"))
    s = s.strip("-()")
    if "," in s and "." in s:  # the later one is the decimal separator
        s = s.replace(".", "").replace(",", ".") if s.rfind(",") > s.rfind(".") else s.replace(",", "")
    elif "," in s:
        s = s.replace(",", ".")
    try:
        amount = Decimal(s)
    except InvalidOperation:
        raise MappingError(f"{path} {text.strip()[:20]!r} is not an amount", field=path) from None
    if negative and amount.is_finite() and amount != 0:
        amount = -amount
    return cents(amount, path, text.strip(), "a refund row carries the ticket's price with "
                 "action refund")


def _parse(s: str, path: str) -> datetime:
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(s)
    except ValueError:
        for fmt in _FORMATS:
            try:
                parsed = datetime.strptime(s, fmt)  # noqa: DTZ007 - zone added below
                break
            except ValueError:
                continue
    if parsed is None:
        raise MappingError(f"{path} {s[:30]!r} is not a date (use 2025-03-01 20:15 or "
                           "01-03-2025 20:15)", field=path)
    return parsed


def parse_when(text: str, tz: tzinfo, path: str) -> datetime:
    """An ISO or Dutch day-first date(time); naive values are in ``tz``."""
    s = text.strip()
    if not s:
        raise MappingError(f"{path} is empty", field=path)
    parsed = _parse(s, path)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-12:00 is past the last UTC instant
        raise MappingError(f"{path} {s[:30]!r} is out of range", field=path) from None


def redacted_row(values: list[str], columns: list[str | None], delimiter: str) -> bytes:
    """The row re-written with personal columns masked; every field masked when the row
    does not line up with the header (its columns cannot be told apart)."""
    if len(values) != len(columns):
        masked = ["[redacted]" if v else v for v in values]
    else:
        masked = ["[redacted]" if c in PERSONAL and v else v for v, c in zip(values, columns, strict=True)]
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerow(masked)
    raw = out.getvalue().encode()
    if len(raw) > MAX_DEAD_LETTER_BYTES:
        raw = raw[:MAX_DEAD_LETTER_BYTES] + f"\n[... {len(raw)} bytes, clipped]".encode()
    return raw


def _get(row: dict[str, str], key: str) -> str:
    return (row.get(key) or "").strip()


def map_row(values: list[str], columns: list[str | None], env: RowEnv) -> TicketEvent:
    """The ticket fact of one row.

    Raises:
        MappingError: naming the column (the caller dead-letters the row), also when the
            contract refuses the value it became or ``env.window`` its time.

    """
    if len(values) != len(columns):
        raise MappingError(f"row has {len(values)} fields but the header has {len(columns)}",
                           field="row")
    row = {c: v for c, v in zip(columns, values, strict=True) if c is not None}
    ticket_id = _get(row, "ticket_id")
    if not ticket_id:
        raise MappingError("ticket_id is empty", field="ticket_id")
    action_text = _get(row, "action")
    kind = ACTIONS.get(normalise(action_text))
    if kind is None:
        raise MappingError(f"action {action_text[:20]!r} is not sale, refund, cancel or scan "
                           "(or verkoop, retour, annulering, scan)", field="action")
    when = parse_when(_get(row, "sold_at"), env.tz, "sold_at")
    if env.window is not None:
        env.window.check(when, "sold_at")
    start = (parse_when(_get(row, "performance_start"), env.tz, "performance_start")
             if _get(row, "performance_start") else None)
    cents = parse_amount(_get(row, "price"), "price")
    label = normalise(_get(row, "ticket_type"))
    ticket_type = env.ticket_types.get(label) or TICKET_TYPES.get(label) or (
        TicketType.FREE if cents == 0 and kind is not TicketEventType.SCANNED else TicketType.OTHER)
    identifiers: list[Identifier] = []
    event_id = _get(row, "event_id")
    if event_id:
        identifiers.append(Identifier.vendor(SYSTEM, env.venue, event_id))
    identifiers += _sector_ids(row, env, start, strict=not event_id)
    if not identifiers:
        raise MappingError("row names no performance: fill event_id, dip_id or uit_id",
                           field="event_id")
    order_id = _get(row, "order_id") or None
    buyer = env.pseudonymiser.buyer(f"{SYSTEM}:{env.venue}", _get(row, "customer_id") or None,
                                    postcode=_get(row, "postcode") or None,
                                    country=iso_country_or_none(_get(row, "country"), "country"),
                                    birthdate=_birthdate(_get(row, "birthdate")))
    extra: dict[str, Any] = {}
    if _get(row, "currency"):
        extra["currency"] = _get(row, "currency").upper()
    try:
        return TicketEvent(
            fact_id=f"{SYSTEM}:{env.venue}:{order_id or '-'}:{ticket_id}:{kind.value}",
            event_time=when, ingested_at=utcnow(), source_system=SYSTEM, source_account=env.venue,
            performance_key=identifiers[0].key, identifiers=identifiers, event_type=kind,
            quantity=1, ticket_type=ticket_type, price_cents=cents,
            currency=extra.get("currency", env.currency), order_id=order_id,
            ticket_ids=[ticket_id], channel=_get(row, "channel") or None, buyer=buyer)
    except ValidationError as exc:
        raise MappingError.from_validation(exc, _COLUMN_OF, "row") from exc


def _birthdate(text: str) -> str | None:
    """The ISO date of a birth date (read without any time zone shift)."""
    return _parse(text, "birthdate").date().isoformat() if text else None
