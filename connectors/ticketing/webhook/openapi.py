"""What the receiver's OpenAPI document says, kept to what the server does.

The handlers read the raw body themselves (the signature covers the exact bytes), so
FastAPI neither parses nor validates it; this module declares for the document:

- per vendor two operations, one per way an account is authenticated (``auth.py``):
  ``/webhooks/{vendor}/{account}`` with the signature as a security scheme
  (``X-Signature``, HMAC-SHA256 of the signed content: the body, for Eventix the trigger
  header, a newline and the body; Eventix accounts in mode openticket-nonce send
  ``OpenTicket-Identifier`` instead, Eventbrite accounts in mode eventbrite-fetch
  nothing), and ``/webhooks/{vendor}/{account}/{token}`` for accounts in mode url-token
  (the token is the credential, so no security scheme); a request without a valid
  credential is answered 401 before anything is read from it;
- the headers each vendor must or may send, with the allowed triggers as an enum;
- the request body of each vendor (its pydantic model: exactly the types the mapping
  accepts), the account id's pattern;
- every status the server answers, each with its body, and ``Retry-After`` on 503.

Cross-field rules JSON Schema cannot say (an event time within the window relative to
now, available + reserved <= total, an ``api_url`` on an allowed host that answers)
are refused with 422 naming the field, as the 422 response says.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from connectors.ticketing.webhook import eventbrite, eventix, stager
from connectors.ticketing.webhook.auth import NONCE_HEADER, TOKEN_PATTERN
from connectors.ticketing.webhook.receiver import ACCOUNT_PATTERN
from connectors.ticketing.webhook.signing import SIGNATURE_HEADER

__all__ = ["Accepted", "Refused", "Unavailable", "WEBHOOK_RESPONSES", "build_openapi",
           "eventbrite_doc", "eventix_doc", "stager_doc"]

SECURITY_SCHEME = "signature"


class Accepted(BaseModel):
    """200: published and acknowledged by Kafka (``accepted``), or a replay of a delivery
    already published (``duplicate``: no fact ids)."""

    status: str
    what: str | None = None
    facts: int | None = None
    fact_ids: list[str] | None = None
    request_id: str


class Refused(BaseModel):
    """4xx: what was wrong (``error``) and where (``field``); ``dead_lettered`` when the
    original bytes went to the dead-letter topic."""

    status: str
    error: str
    field: str | None = None
    request_id: str
    dead_lettered: bool | None = None


class Unavailable(BaseModel):
    """503 (429 to OpenTicket): Kafka or the Eventbrite API did not answer; redeliver after
    Retry-After."""

    status: str
    error: str
    request_id: str


def _json(model: type[BaseModel], description: str,
          headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"model": model, "description": description}
    if headers:
        out["headers"] = headers
    return out


_RETRY_AFTER = {"description": "Seconds to wait.", "schema": {"type": "string", "pattern": "^[0-9]+$"}}
WEBHOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: _json(Accepted, "Published and acknowledged by Kafka (status accepted), or a replay "
               "of a delivery already published (status duplicate), recognised by its signed "
               "content."),
    400: _json(Refused, "The body is not JSON this bus reads (not UTF-8, invalid, nested over "
               "64 levels, a number of thousands of digits, NaN/Infinity, a lone surrogate); "
               "dead-lettered."),
    401: _json(Refused, f"Missing or wrong credential of the account's mode: {SIGNATURE_HEADER} "
               "(or, Eventix, a missing or ambiguous OpenTicket-Trigger the signature must "
               "cover), the URL token, or OpenTicket-Identifier. Names what to configure; "
               "nothing is kept."),
    403: _json(Refused, "A Stager delivery from a peer address outside "
               "webhook.stager_allow_from."),
    404: _json(Refused, "Unknown vendor, an account id that is not one, no credential "
               "configured for the account (the message names the settings to add), or a "
               "token in the URL of an account that takes none."),
    405: _json(Refused, "Method not allowed: deliveries are POSTed.",
               {"Allow": {"description": "The methods allowed.", "schema": {"type": "string"}}}),
    408: _json(Refused, "The body did not arrive within connector.body_timeout_s."),
    413: _json(Refused, "Body over connector.max_body_bytes."),
    422: _json(Refused, "Signed and JSON, but not a delivery this bus can count: a missing or "
               "wrong field, a trigger or action not handled, an event time outside the "
               "configured window, a number the contract cannot carry, an unknown ticket "
               "type (strict mode), an api_url that is not an allowed Eventbrite host. "
               "Names the input field; dead-lettered."),
    429: _json(Unavailable, "As 503, for an Eventix delivery straight from OpenTicket (mode "
               "openticket-nonce or url-token): OpenTicket retries a delivery only when the "
               "answer is a 4xx.", {"Retry-After": _RETRY_AFTER}),
    503: _json(Unavailable, "Kafka (or the Eventbrite API) unavailable; redeliver after "
               "Retry-After.", {"Retry-After": _RETRY_AFTER}),
}


def _header(name: str, description: str, *, required: bool = False,
            enum: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if enum:
        schema["enum"] = enum
    return {"name": name, "in": "header", "required": required, "description": description,
            "schema": schema}


_IN_URL_NOTE = ("For accounts in mode url-token (webhook.url_tokens): the token is the last "
               "path segment, compared in constant time and never logged or echoed; no "
               "header authenticates these deliveries.")


def _operation(model: type[BaseModel], headers: list[dict[str, Any]],
               note: str = "", *, token: bool = False) -> dict[str, Any]:
    if token:
        note = f"{_IN_URL_NOTE} {note}".strip()
    out: dict[str, Any] = {"description": note} if note else {}
    return out | {"parameters": headers,
            "security": [] if token else [{SECURITY_SCHEME: []}],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}


def eventix_doc(*, token: bool = False) -> dict[str, Any]:
    triggers = sorted(eventix.TRIGGERS)
    headers = [
        _header(eventix.TRIGGER_HEADERS[0], "The trigger; in mode hmac covered by the "
                "signature (HMAC of the trigger, a newline, the body). Any other trigger is "
                "refused (422).", required=True, enum=triggers),
        _header(eventix.TRIGGER_HEADERS[1], f"Older spelling; if sent it must equal "
                f"{eventix.TRIGGER_HEADERS[0]} (else 401 in mode hmac, 422 otherwise).",
                enum=triggers)]
    if not token:
        headers.append(_header(NONCE_HEADER, "The webhook's nonce, as OpenTicket sends it; "
                               "required (and the only credential) for accounts in mode "
                               "openticket-nonce (webhook.openticket_nonces), else not read."))
    return _operation(eventix.EventixDelivery, headers,
                      "Accounts in mode hmac sign; accounts in mode openticket-nonce send "
                      "OpenTicket-Identifier and no signature. OpenTicket-Dedupe-Key is not "
                      "read: a replay is recognised by the hash of the trigger and the body. "
                      "Without a signature the trigger header is as trusted as the body.",
                      token=token)


def eventbrite_doc(*, token: bool = False) -> dict[str, Any]:
    return _operation(eventbrite.EventbriteDelivery, [],
                      "The body only points at api_url: nothing of it is published, only "
                      "what the receiver fetches from an allowed Eventbrite API host with "
                      "the account's token. Accounts in mode eventbrite-fetch (their own "
                      "token in webhook.eventbrite_tokens, no other credential) send no "
                      "signature.", token=token)


def stager_doc(*, token: bool = False) -> dict[str, Any]:
    return _operation(stager.StagerDelivery, [],
                      "webhook.stager_allow_from, when set, also limits the peer address "
                      "(403).", token=token)


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The document: FastAPI's, plus the vendor body models, the signature scheme and
    the account id's pattern."""
    schema = get_openapi(title=app.title, version=app.version, description=app.description,
                         routes=app.routes)
    components = schema.setdefault("components", {})
    comps = components.setdefault("schemas", {})
    for model in (eventix.EventixDelivery, eventbrite.EventbriteDelivery, stager.StagerDelivery):
        js = model.model_json_schema(ref_template="#/components/schemas/{model}")
        comps.update(js.pop("$defs", {}))
        comps[model.__name__] = js
    components["securitySchemes"] = {SECURITY_SCHEME: {
        "type": "apiKey", "in": "header", "name": SIGNATURE_HEADER,
        "description": "sha256=<lower-case hex HMAC-SHA256> under the vendor/account secret "
                       "of the raw body (Eventbrite, Stager) or of the OpenTicket-Trigger "
                       "value, a newline (0x0A) and the raw body (Eventix)."}}
    for path, item in schema.get("paths", {}).items():
        for param in item.get("post", {}).get("parameters", []):
            if path.startswith("/webhooks/") and param.get("name") == "account":
                param["schema"] = {"type": "string", "pattern": ACCOUNT_PATTERN,
                                   "title": "Account"}
                param["description"] = "The venue's account id at the vendor."
            if path.startswith("/webhooks/") and param.get("name") == "token":
                param["schema"] = {"type": "string", "pattern": TOKEN_PATTERN, "title": "Token"}
                param["description"] = ("The account's URL token (webhook.url_tokens); a "
                                        "wrong one is 401.")
    return schema
