"""Which productions a calendar description names, as relation keys (issue #13 item 1).

Performances of one production are related, never merged: each keeps its own seats. The
keys are namespaced so that ids of different systems never collide:

==========================  =====================================================
``dip-production|<ID>``     a DIP production id, upper case (``NL-23-1234-5``): the
                            ``production_id`` of a DIP, Ticketmatic or schema.org
                            description, and the production part of every ``dip``
                            identifier (``NL-23-1234-5|00003``)
``uit-production|<uuid>``   a UiTdatabank production (``production.id``), lower case
``uit-event|<uuid>``        a UiTdatabank event: the event of every ``uit`` identifier
                            (all dates of one UiT event are one production) and each
                            of ``production.otherEvents``
==========================  =====================================================

A ``production_id`` that is a uuid is a UiT production (DIP ids never are; the schema.org
and Ticketmatic mappings take theirs from a DIP id), anything else a DIP production.

A performance with a UiT description and a DIP description carries both production
ids: for a reader that makes them one production (``sinks.gateway`` follows keys
transitively). Per source the newest description's keys count; the performance's keys
are the sorted union over its sources, at most ``MAX_KEYS`` (the production ids first;
``otherEvents`` of a large production are the ones left out, and the production id
relates those events anyway).
"""

from __future__ import annotations

import re
from typing import Any

from bus.log import get_logger

__all__ = ["MAX_KEYS", "description_keys", "union"]

log = get_logger(__name__)

MAX_KEYS = 32
DIP, UIT, UIT_EVENT = "dip-production", "uit-production", "uit-event"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_RANK = {DIP: 0, UIT: 0, UIT_EVENT: 1}


def _production(value: str) -> str | None:
    text = value.strip()
    if not text or "|" in text:
        return None
    if _UUID.fullmatch(text.lower()):
        return f"{UIT}|{text.lower()}"
    return f"{DIP}|{text.upper()}"


def description_keys(perf: dict[str, Any]) -> list[str]:
    """The production keys one Performance (as fastavro reads it) names, sorted."""
    keys: set[str] = set()
    prod = perf.get("production_id")
    if isinstance(prod, str) and (key := _production(prod)):
        keys.add(key)
    for ident in perf.get("identifiers") or ():
        ns, value = ident.get("namespace"), str(ident.get("value") or "")
        if ns == "dip" and "|" in value:
            keys.add(f"{DIP}|{value.rsplit('|', 1)[0].strip().upper()}")
        elif ns == "uit" and _UUID.fullmatch(value[:36].lower()):
            keys.add(f"{UIT_EVENT}|{value[:36].lower()}")
    for other in perf.get("production_other_events") or ():
        if isinstance(other, str) and _UUID.fullmatch(other.strip().lower()):
            keys.add(f"{UIT_EVENT}|{other.strip().lower()}")
    return sorted(keys)


def union(per_source: list[list[str]], fact: str = "") -> list[str]:
    """The sorted union of the sources' keys, at most ``MAX_KEYS`` (see the module);
    ``fact`` names the calendar fact that changed them, for the log."""
    keys = sorted({k for keys in per_source for k in keys})
    if len(keys) <= MAX_KEYS:
        return keys
    kept = sorted(sorted(keys, key=lambda k: (_RANK.get(k.split("|", 1)[0], 2), k))[:MAX_KEYS])
    log.info("a performance names more productions and UiT events than the state keeps; the "
             "production ids are kept, some otherEvents left out",
             extra={"fact": fact, "named": len(keys), "kept": MAX_KEYS})
    return kept
