"""Sector identifiers in vendor fields: which field holds which namespace, and reading
the values venues really type into them.

A venue keeps the UiTdatabank or DIP id of a show in a field of its ticketing system
(a Ticketmatic custom field ``c_uitdatabankid``, an Eventix metadata entry, a CSV
column). ``--id-field uit=c_uitdatabankid --id-field dip=c_dipid`` says which;
``IdFields.extract`` turns the values into identifiers in their canonical form
(``schemas.models.Identifier``), so they meet the calendar's keys in the crosswalk.

Values read:
    dip  ``NL-23-1234-5|3`` (also ``/``, ``#`` or a space between), any case, any
         zero padding of the number.
    uit  a bare uuid, ``uuid#n`` (a subEvent index), or a URL ending in the uuid:
         ``https://io.uitdatabank.be/event/<uuid>`` (``/events/``, any ``*uitdatabank.be``
         host: the ``@id`` hosts differ per environment) or a UiT in Vlaanderen page
         ``https://www.uitinvlaanderen.be/agenda/e/<slug>/<uuid>``. An id without
         ``#n`` names the event, not the date: it becomes ``Identifier.uit_at`` with the
         vendor's own start time.

A value that cannot be read is logged with its field path and counted
(``cultuurbus_connector_identifiers_unreadable``); the fact still goes out with its
vendor id: a venue's typo must not hold back a sale.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import click
from prometheus_client import CollectorRegistry, Counter

from bus.log import get_logger
from bus.metrics import PerRegistry
from schemas.models import Identifier

__all__ = ["NAMESPACES", "IdFields", "IdentifierMetrics", "parse_dip", "parse_uit"]

log = get_logger(__name__)

#: Namespaces a vendor field may hold.
NAMESPACES = ("uit", "dip")
_DIP = re.compile(r"^\s*([A-Za-z]{2}-[0-9A-Za-z-]+?)\s*[|/#\s]\s*([0-9]{1,18})\s*$")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_INDEX = re.compile(r"^(.*?)\s*#\s*([0-9]{1,9})\s*$", re.DOTALL)
_UIT_HOSTS = ("uitdatabank.be", "uitinvlaanderen.be", "uitin.be")


def parse_dip(value: Any) -> Identifier:
    """A DIP id as venues write it -> ``Identifier.dip``.

    Raises:
        ValueError: not ``<production>|<number>`` (the message says what is expected).

    """
    m = _DIP.match(str(value)) if isinstance(value, str | int) else None
    if not m:
        raise ValueError(f"{str(value)[:60]!r} is not a DIP id '<production>|<number>' such as "
                         "'NL-23-1234-5|3'")
    return Identifier.dip(m.group(1), m.group(2))


def _uuid_of(text: str) -> str | None:
    if _UUID.fullmatch(text):
        return text
    parts = urlsplit(text)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not any(
            host == h or host.endswith("." + h) for h in _UIT_HOSTS):
        return None
    segments = [s for s in parts.path.split("/") if s]
    if not segments or not _UUID.fullmatch(segments[-1]):
        return None
    if "uitdatabank" in host and (len(segments) < 2 or segments[-2] not in ("event", "events")):
        return None  # a place or organizer @id is no event
    return segments[-1]


def parse_uit(value: Any, start: datetime | None) -> Identifier:
    """A UiTdatabank id as venues write it -> ``Identifier.uit`` (``uuid#n``) or
    ``Identifier.uit_at`` (the event id alone, matched on ``start``).

    Raises:
        ValueError: no UiTdatabank event id, or only an event id and no ``start``.

    """
    text = value.strip() if isinstance(value, str) else ""
    index: int | None = None
    m = _INDEX.match(text)
    if m:
        text, index = m.group(1), int(m.group(2))
    uuid = _uuid_of(text)
    if uuid is None:
        raise ValueError(f"{str(value)[:80]!r} is not a UiTdatabank event id: expected a uuid, "
                         "'uuid#subEvent' or https://io.uitdatabank.be/event/<uuid>")
    if index is not None:
        return Identifier.uit(uuid, index)
    if start is None:
        raise ValueError(f"{str(value)[:80]!r} names a UiTdatabank event but not which date; "
                         "write 'uuid#subEvent' or give the performance a start time")
    return Identifier.uit_at(uuid, start)


_PARSERS: dict[str, Callable[[Any, datetime | None], Identifier]] = {
    "dip": lambda value, _start: parse_dip(value), "uit": parse_uit}


class IdentifierMetrics(PerRegistry):
    """Declared once per registry (``of``): unreadable identifier values, by namespace."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.unreadable = Counter(
            "cultuurbus_connector_identifiers_unreadable",
            "Vendor field values that should hold a sector id (--id-field) but could not be "
            "read; the fact went out with its vendor id only.", ["connector", "namespace"],
            registry=registry)


@dataclass(frozen=True)
class IdFields:
    """Which vendor field holds which identifier namespace.

    Args:
        fields: ``(namespace, field name)`` pairs, in the order given.
        on_unreadable: called with the namespace of every value that cannot be read.

    """

    fields: tuple[tuple[str, str], ...] = ()
    on_unreadable: Callable[[str], None] | None = field(default=None, compare=False)

    @classmethod
    def parse(cls, specs: Iterable[str], param_hint: str = "--id-field") -> IdFields:
        """``("uit=c_uitdatabankid", "dip=c_dipid")`` -> IdFields.

        Raises:
            click.BadParameter: a spec that is not ``ns=field`` with ns in ``uit``, ``dip``.

        """
        out: list[tuple[str, str]] = []
        for spec in specs:
            ns, sep, name = spec.partition("=")
            ns, name = ns.strip().lower(), name.strip()
            if not sep or ns not in NAMESPACES or not name:
                raise click.BadParameter(
                    f"{spec!r} is not NAMESPACE=FIELD with NAMESPACE one of "
                    f"{', '.join(NAMESPACES)} (e.g. uit=c_uitdatabankid)", param_hint=param_hint)
            out.append((ns, name))
        return cls(tuple(out))

    @classmethod
    def of(cls, mapping: Mapping[str, str]) -> IdFields:
        """From a settings mapping ``{"dip": "dip_id", "uit": "uit_id"}``.

        Raises:
            ValueError: a namespace other than ``uit`` or ``dip``, or an empty field name.

        """
        for ns, name in mapping.items():
            if ns not in NAMESPACES or not name.strip():
                raise ValueError(f"id field {ns}={name!r}: the namespace must be one of "
                                 f"{', '.join(NAMESPACES)} and the field name non-empty")
        return cls(tuple((ns, name.strip()) for ns, name in mapping.items()))

    def counting(self, registry: CollectorRegistry, connector: str) -> IdFields:
        """The same fields, counting unreadable values in ``registry`` under ``connector``."""
        counter = IdentifierMetrics.of(registry).unreadable
        return replace(self, on_unreadable=lambda ns: counter.labels(connector, ns).inc())

    def names(self, namespace: str) -> list[str]:
        return [name for ns, name in self.fields if ns == namespace]

    def extract(self, fields: Mapping[str, Any], start: datetime | None,
                where: str) -> list[Identifier]:
        """The identifiers in ``fields`` (vendor field name -> value).

        Args:
            fields: the vendor object's fields.
            start: the performance's start as the vendor has it (for an event-only UiT id).
            where: the path of ``fields`` in the input, for the log line.

        """
        out: list[Identifier] = []
        for ns, name in self.fields:
            value = fields.get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            try:
                ident = _PARSERS[ns](value, start)
            except ValueError as exc:
                log.warning("unreadable identifier in a vendor field; the fact goes out with its "
                            "vendor id only", extra={"field": f"{where}.{name}", "namespace": ns,
                                                     "error": str(exc)})
                if self.on_unreadable is not None:
                    self.on_unreadable(ns)
                continue
            if ident not in out:
                out.append(ident)
        return out
