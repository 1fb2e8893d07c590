"""Scrubbing personal data out of the bytes a connector dead-letters.

A dead letter keeps the original bytes so an operator can see what arrived, but raw
personal data must never reach Kafka: known personal fields of JSON bodies are
replaced by ``[redacted]`` and e-mail addresses and phone numbers in any text are
masked before the bytes are written. ``errors.redacted`` (``bus.deadletter``) says
whether anything was. Every pattern runs in linear time: a hostile 1 MiB body is
masked in a fraction of a second, not minutes.
"""

from __future__ import annotations

import json
import re
from typing import Any

from connectors.sdk.jsonbody import BadJson, load_json

__all__ = ["PERSONAL_KEYS", "scrub"]

PERSONAL_KEYS = frozenset(k.replace("_", "").replace("-", "") for k in (
    "email", "e-mail", "emailaddress", "phone", "telephone", "mobile", "phonenumber",
    "firstname", "first_name", "lastname", "last_name", "fullname", "full_name",
    "middlename", "surname", "street", "streetname", "housenumber", "address",
    "address1", "address2", "addressline", "birthdate", "birth_date", "dateofbirth",
    "date_of_birth", "dob", "iban", "bankaccount",
))
_PERSON_CONTAINERS = frozenset(("customer", "buyer", "attendee", "profile", "contact",
                                "visitor", "purchaser", "holder"))
_PERSON_ONLY_KEYS = frozenset(("name", "postcode", "zipcode", "postalcode", "zip", "city"))
# Text that is not JSON (a truncated body) shows no nesting, so whose ``name`` or
# ``postcode`` a pair is cannot be told: there every name and postcode is masked too.
_TEXT_KEYS = PERSONAL_KEYS | (_PERSON_ONLY_KEYS - {"city"})
# A personal key (any case, with or without _ or -) and its string value, which may be
# cut off at the end; the value is matched in one linear pass (unrolled escapes).
_KEY_ALTERNATIVES = b"|".join(rb"[_\-]?".join(re.escape(c.encode()) for c in key)
                              for key in sorted(_TEXT_KEYS, key=len, reverse=True))
_PAIR = re.compile(rb'"(' + _KEY_ALTERNATIVES + rb')"\s*:\s*"([^"\\]*(?:\\.[^"\\]*)*)("|$)',
                   re.IGNORECASE)
# Linear time on any input (a 1 MiB body is masked in milliseconds): a match may start
# only where a run of address characters starts (so a long run is scanned once, not once
# per position), and a phone number is at most 24 characters long.
_EMAIL = re.compile(rb"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Phone numbers start with + or 0 (NL/BE); ids like NL-25-4821-3 and dates are left alone.
_PHONE = re.compile(rb"(?<![\w.\-:])(?:\+|00|0)\d[\d ()\-]{6,20}\d(?![\w.\-:])")
REDACTED = "[redacted]"


def _norm(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "")


def _scrub_obj(obj: Any, in_person: bool = False) -> tuple[Any, bool]:
    changed = False
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            nk = _norm(str(k))
            if nk in PERSONAL_KEYS or (in_person and nk in _PERSON_ONLY_KEYS):
                out[k] = REDACTED if v not in (None, "") else v
                changed = changed or v not in (None, "")
            else:
                out[k], c = _scrub_obj(v, in_person or nk in _PERSON_CONTAINERS)
                changed = changed or c
        return out, changed
    if isinstance(obj, list):
        items = [_scrub_obj(v, in_person) for v in obj]
        return [i[0] for i in items], any(i[1] for i in items)
    if isinstance(obj, str):
        masked = _mask_text(obj.encode()).decode("utf-8", "replace")
        return masked, masked != obj
    return obj, False


def _mask_pairs(raw: bytes) -> bytes:
    """Mask ``"personal_key": "value"`` pairs in text that is not valid JSON (a truncated
    body), also when the value is cut off at the end."""

    def repl(m: re.Match[bytes]) -> bytes:
        if not m.group(2):
            return m.group(0)
        return b'"' + m.group(1) + b'": "' + REDACTED.encode() + b'"'

    return _PAIR.sub(repl, raw)


_DATE = re.compile(rb"^\d{1,4}[-/]\d{1,2}[-/]\d{1,4}$")


def _phone(m: re.Match[bytes]) -> bytes:
    return m.group(0) if _DATE.match(m.group(0)) else b"[redacted-phone]"


def _mask_text(raw: bytes) -> bytes:
    return _PHONE.sub(_phone, _EMAIL.sub(b"[redacted-email]", raw))


def scrub(raw: bytes) -> tuple[bytes, bool]:
    """The bytes with personal data masked, and whether anything was masked."""
    try:
        obj = load_json(raw, text_only=True)  # a lone surrogate cannot be re-encoded
    except BadJson:
        masked = _mask_text(_mask_pairs(raw))
        return masked, masked != raw
    cleaned, changed = _scrub_obj(obj)
    if not changed:
        return raw, False
    return json.dumps(cleaned, ensure_ascii=False).encode(), True
