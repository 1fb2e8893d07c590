"""Ticket-shop URL -> the vendor identifier of the event it sells.

Calendars publish where to buy (UiTdatabank ``bookingInfo.url``, schema.org
``offers.url``); when that is a known vendor's shop, the link names the vendor's event,
and the crosswalk can join the calendar's performance with the vendor's sales. The URL
shapes are those in ``docs/identity-sources.md``:

=============  ==========================================================  ==============================
vendor         URL (the parts a parser may rely on)                        identifier
=============  ==========================================================  ==============================
Ticketmatic    ``https://<host>/widgets/<account>/<widget…>?event=<ids>``   ``vendor:ticketmatic:<account>``
               (host ``apps.ticketmatic.com`` or the account's own domain;  one per id in the comma list
               ``event`` a comma list)
Eventbrite     ``https://www.eventbrite.<tld>/e/<slug>-tickets-<id>``,      ``vendor:eventbrite`` (event ids
               ``/e/<id>``, ``/myevent?eid=<id>``                           are global; no account)
Stager         ``https://<organisation>.stager.co/shop/<shop>/events/<id>``  ``vendor:stager:<organisation>``
=============  ==========================================================  ==============================

Eventix/Weeztix shop links (``shop.eventix.io/<shop guid>``) name a shop, not an
event or a date, so they identify nothing. Any other URL is simply no identifier.
A Ticketmatic sales-flow link may carry the event ``code`` instead of its ``id``;
such a key only meets the vendor's own when the venue links by id.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from schemas.models import Identifier

__all__ = ["shop_identifiers"]

_EVENTBRITE_PATH = re.compile(r"^/e/(?:[^/]*-)?([0-9]{6,20})/?$")
_EVENTBRITE_HOST = re.compile(r"^(?:www\.)?eventbrite\.(?:[a-z]{2,3}|co\.[a-z]{2}|com\.[a-z]{2})$")
_DIGITS = re.compile(r"^[0-9]{1,20}$")
_ACCOUNT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _ticketmatic(path: list[str], query: dict[str, list[str]]) -> list[Identifier]:
    if len(path) < 3 or path[0] != "widgets" or not _ACCOUNT.match(path[1]):
        return []
    ids = [v.strip() for value in query.get("event", []) for v in value.split(",")]
    return [Identifier.vendor("ticketmatic", path[1], i) for i in ids if _DIGITS.match(i)]


def _eventbrite(host: str, path: str, query: dict[str, list[str]]) -> list[Identifier]:
    if not _EVENTBRITE_HOST.match(host):
        return []
    m = _EVENTBRITE_PATH.match(path)
    if m:
        return [Identifier.vendor_global("eventbrite", m.group(1))]
    eid = (query.get("eid") or [""])[0].strip()
    if path.rstrip("/") == "/myevent" and _DIGITS.match(eid):
        return [Identifier.vendor_global("eventbrite", eid)]
    return []


def _stager(host: str, path: list[str]) -> list[Identifier]:
    org, _, domain = host.partition(".")
    if domain not in ("stager.co", "stager.nl") or not _ACCOUNT.match(org) or org == "www":
        return []
    if len(path) >= 4 and path[0] == "shop" and path[2] == "events" and _DIGITS.match(path[3]):
        return [Identifier.vendor("stager", org, path[3])]
    return []


def shop_identifiers(url: Any) -> list[Identifier]:
    """The vendor identifiers a ticket-shop URL names; none for anything else."""
    if not isinstance(url, str) or len(url) > 2000:
        return []
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
    except ValueError:  # a malformed host or port
        return []
    if parts.scheme not in ("http", "https") or not host:
        return []
    query = parse_qs(parts.query)
    segments = [s for s in parts.path.split("/") if s]
    found = (_ticketmatic(segments, query) or _eventbrite(host, parts.path, query)
             or _stager(host, segments))
    unique: list[Identifier] = []
    for ident in found:
        if ident not in unique:
            unique.append(ident)
    return unique
