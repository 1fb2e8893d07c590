"""Pieces every vendor mapping shares: stable fact ids, identifiers from custom fields,
and field paths for validation errors."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from bus.log import get_logger
from connectors.sdk.errors import MappingError
from connectors.sdk.privacy import Pseudonymiser
from connectors.sdk.records import SourceRecord
from connectors.ticketing.webhook.settings import WebhookSettings
from connectors.ticketing.webhook.tickettypes import TicketTypeMapper
from schemas.models import Identifier

__all__ = ["FACT_NAMESPACE", "Delivery", "Mapped", "MappingEnv", "custom_identifiers", "fact_id",
           "parse", "to_cents"]

log = get_logger(__name__)

#: uuid5 namespace of webhook fact ids (fixed forever: changing it changes every id).
FACT_NAMESPACE = uuid.UUID("7d3c8a52-2f0e-5b7e-9c41-6a1f0e3b9d27")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def fact_id(*parts: object) -> str:
    """A stable id from the vendor's identity of one occurrence (same parts, same id)."""
    return str(uuid.uuid5(FACT_NAMESPACE, "\x1f".join(str(p) for p in parts)))


@dataclass(frozen=True)
class Delivery:
    """One authenticated webhook request, body still raw."""

    vendor: str
    account: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    received_at: datetime
    request_id: str

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
    """Euros as number or decimal text -> whole cents."""
    from decimal import Decimal, InvalidOperation

    try:
        cents = (Decimal(str(amount)) * 100).quantize(Decimal(1))
    except (InvalidOperation, ValueError):
        raise MappingError(f"wrong value {field_path}: expected an amount such as 27.50",
                           field=field_path) from None
    return int(cents)


def custom_identifiers(fields: Mapping[str, Any], settings: WebhookSettings,
                       where: str) -> list[Identifier]:
    """DIP and UiT identifiers from a vendor's custom event fields (name -> value).

    A value that cannot be read is logged and left out: a venue's typo in a custom
    field must not hold back the sale itself, which still carries the vendor id.
    """
    out: list[Identifier] = []
    dip = fields.get(settings.dip_field)
    if dip not in (None, ""):
        m = re.fullmatch(r"\s*([A-Za-z]{2}-[0-9A-Za-z-]+?)\s*[|/#]\s*([0-9]+)\s*", str(dip))
        if m:
            out.append(Identifier.dip(m.group(1).upper(), int(m.group(2))))
        else:
            log.warning("unreadable DIP id in custom field", extra={
                "field": f"{where}.{settings.dip_field}",
                "hint": "expected production|number, e.g. NL-23-1234-5|3"})
    uit = fields.get(settings.uit_field)
    if uit not in (None, ""):
        text = str(uit)
        m2 = _UUID.search(text)
        if m2:
            sub = re.search(r"#(\d+)\s*$", text)
            out.append(Identifier.uit(m2.group(0).lower(), int(sub.group(1)) if sub else 0))
        else:
            log.warning("unreadable UiTdatabank id in custom field", extra={
                "field": f"{where}.{settings.uit_field}", "hint": "expected uuid or uuid#subEvent"})
    return out
