"""The gateway's OpenAPI document, made to say what the gateway does.

FastAPI derives parameters and responses from the handlers' signatures, which are
loose on purpose (the handlers parse parameters themselves to answer a 400 that names
the parameter). This module states the truth on top: each parameter's accepted values
and limits, every response the gateway gives (400, 401, 404, 503 as JSON problems,
``text/event-stream`` for the stream, ``text/plain`` for metrics), their JSON shapes
and headers. The Schemathesis test holds the gateway to it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from sinks.gateway.shapes import MAX_LIMIT, STATUSES

__all__ = ["EXAMPLE_ID", "document"]

Schema = dict[str, Any]

EXAMPLE_ID = "dip|NL-23-1234-5|3"

_TEXT = {"type": ["string", "null"]}
_INT = {"type": "integer"}
_INT_OR_NULL = {"type": ["integer", "null"]}
_UTC = {"type": ["string", "null"], "format": "date-time"}
_STATUS = {"type": "string", "enum": list(STATUSES)}
_SEQ = {"type": "string", "pattern": "^[0-9]+$"}

_BLANK = {"type": "string", "pattern": "^ *$", "description": "blank: ignored"}
#: The years the bus carries, 1970-2299 (``schemas.models.TIMESTAMP_MIN``..``TIMESTAMP_MAX``;
#: ``tests/unit/sinks/test_gateway_query_properties.py`` keeps the two in step).
YEARS_PATTERN = "^ *(19[7-9][0-9]|2[0-2][0-9][0-9])-"
_YEARS = YEARS_PATTERN
_INSTANT = {"anyOf": [{"type": "string", "format": "date", "pattern": _YEARS},
                      {"type": "string", "format": "date-time", "pattern": _YEARS}, _BLANK]}
_EVENT_ID = {"type": "string", "pattern": "^ *[0-9]* *$"}

COMPONENTS: dict[str, Schema] = {
    "Problem": {
        "type": "object", "required": ["error", "message"],
        "properties": {"error": {"type": "string", "enum": ["bad_parameter", "unauthorized", "not_found",
                                                            "unavailable", "error", "internal"]},
                       "message": {"type": "string"},
                       "parameter": {"type": "string", "description": "the parameter at fault"}},
    },
    "Availability": {
        "type": "object",
        "required": ["performance_id", "title", "venue_name", "city", "region", "genre", "start",
                     "start_local", "capacity", "sold", "reserved", "blocked", "refunded", "remaining",
                     "status", "last_fact_time", "updated_at", "version", "bookingAvailability",
                     "offers"],
        "properties": {
            "performance_id": {"type": "string"}, "title": _TEXT, "venue_name": _TEXT, "city": _TEXT,
            "region": _TEXT, "genre": _TEXT, "start": _UTC,
            "start_local": {"type": ["string", "null"], "description": "Europe/Amsterdam"},
            "capacity": _INT_OR_NULL, "sold": _INT, "reserved": _INT, "blocked": _INT, "refunded": _INT,
            "remaining": _INT_OR_NULL, "status": _STATUS, "last_fact_time": _UTC, "updated_at": _UTC,
            "version": _INT,
            "bookingAvailability": {
                "type": "object", "required": ["type"],
                "properties": {"type": {"type": "string"}, "capacity": _INT, "remainingCapacity": _INT}},
            "offers": {"type": "object", "required": ["@type", "availability"],
                       "properties": {"@type": {"type": "string"}, "availability": {"type": "string"}}},
            "basis": {"type": "string", "enum": ["computed", "declared"],
                      "description": "computed: from counted sales; declared: no ticketing source is "
                                     "connected, so what a calendar or vendor declared"},
            "declared": {"type": ["object", "null"], "description": "the newest declared availability",
                         "properties": {"status": _TEXT, "remaining": _INT_OR_NULL, "source": _TEXT,
                                        "at": _UTC, "drift": _INT_OR_NULL}},
            "production_keys": {"type": "array", "items": {"type": "string"}, "description": (
                "Productions the performance's descriptions name: dip-production|<DIP id>, "
                "uit-production|<uuid>, uit-event|<uuid>; see /v1/productions/{production_id}/performances")},
        },
    },
    "ProductionPerformances": {
        "type": "object",
        "required": ["production_id", "production_ids", "items", "count", "total", "last_event_id"],
        "properties": {
            "production_id": {"type": "string", "description": "the id asked for"},
            "production_ids": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                               "description": "every production key found, following shared keys"},
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Availability"}},
            "count": {"type": "integer", "minimum": 0},
            "total": {"type": "integer", "minimum": 0},
            "last_event_id": _SEQ},
    },
    "LastMinuteOffer": {
        "type": "object",
        "required": ["performance_id", "title", "venue_name", "city", "region", "genre", "start",
                     "start_local", "remaining", "capacity", "status", "url", "updated_at"],
        "properties": {
            "performance_id": {"type": "string"}, "title": _TEXT, "venue_name": _TEXT, "city": _TEXT,
            "region": _TEXT, "genre": _TEXT, "start": _UTC,
            "start_local": {"type": ["string", "null"], "description": "Europe/Amsterdam"},
            "remaining": _INT_OR_NULL, "capacity": _INT_OR_NULL, "status": _STATUS, "url": _TEXT,
            "updated_at": _UTC,
        },
    },
    "Event": {
        "type": "object", "required": ["event", "data", "id"],
        "properties": {"event": {"type": "string", "enum": ["hello", "reset", "availability",
                                                            "availability-withdrawn", "lastminute",
                                                            "lastminute-withdrawn"]},
                       "data": {"type": "string", "contentMediaType": "application/json"},
                       "id": _SEQ},
    },
    "Me": {
        "type": "object", "required": ["tenant", "kind", "venues", "productions", "may"],
        "properties": {"tenant": {"type": "string", "description": "the tenant's name"},
                       "kind": {"type": "string", "enum": ["vendor", "venue", "producer", "app",
                                                          "analyst"]},
                       "venues": {"type": "array", "items": {"type": "string"},
                                  "description": "venue ids it is registered for"},
                       "productions": {"type": "array", "items": {"type": "string"},
                                       "description": "production ids it is registered for"},
                       "may": {"type": "array", "items": {"type": "string"},
                               "description": "what its kind may use, in words (`cultuurbus "
                                              "catalog` has the grants)"}},
    },
    "Health": {
        "type": "object", "required": ["live", "ready", "checks"],
        "properties": {"live": {"type": "boolean"}, "ready": {"type": "boolean"},
                       "checks": {"type": "object", "additionalProperties": {"type": "boolean"}}},
    },
}


def _page(item: str) -> Schema:
    return {"type": "object", "required": ["items", "count", "total", "last_event_id"],
            "properties": {"items": {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}},
                           "count": {"type": "integer", "minimum": 0},
                           "total": {"type": "integer", "minimum": 0},
                           "last_event_id": _SEQ}}


def _json(schema: Schema, description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        out["headers"] = headers
    return out


_PROBLEM = {"$ref": "#/components/schemas/Problem"}
_POSITION = {"X-Last-Event-ID": {"required": True, "schema": _SEQ,
                                 "description": "The view's position: resume the stream from it."}}
_BAD = _json(_PROBLEM, "A parameter is malformed or out of range; `parameter` names it.")
_LOADING = _json(_PROBLEM, "The view is still loading from Kafka.", {
    "Retry-After": {"required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}})
_CHALLENGE = {"WWW-Authenticate": {"required": True, "schema": {"type": "string"},
                                   "description": 'Bearer realm="cultuurbus"'}}
#: The scheme of tenants' API tokens (``cultuurbus tenant add`` prints one).
SECURITY_SCHEMES = {"tenantToken": {
    "type": "http", "scheme": "bearer",
    "description": "A tenant's API token, as `cultuurbus tenant add` printed it. Optional on the "
                   "public routes; a token that is not valid is refused (401) on every route."}}

RESPONSES: dict[str, dict[str, Any]] = {
    "/healthz": {"200": _json({"$ref": "#/components/schemas/Health"}, "Ready."),
                 "503": _json({"$ref": "#/components/schemas/Health"}, "Not ready; `checks` says why.")},
    "/healthz/live": {"200": _json({"type": "object", "required": ["live"],
                                    "properties": {"live": {"const": True}}}, "Live.")},
    "/metrics": {"200": {"description": "Prometheus text exposition.",
                         "content": {"text/plain": {"schema": {"type": "string"}}}}},
    "/v1/performances/{performance_id}/availability": {
        "200": _json({"$ref": "#/components/schemas/Availability"}, "The performance's availability.",
                     _POSITION),
        "404": _json(_PROBLEM, "No availability known for this id."),
        "503": _LOADING},
    "/v1/availability": {"200": _json(_page("Availability"), "Matching performances.", _POSITION),
                         "400": _BAD, "503": _LOADING},
    "/v1/productions/{production_id}/performances": {
        "200": _json({"$ref": "#/components/schemas/ProductionPerformances"},
                     "Every performance of the production, each with its own availability.", _POSITION),
        "400": _BAD,
        "404": _json(_PROBLEM, "No performance names this production id."),
        "503": _LOADING},
    "/v1/lastminute": {"200": _json(_page("LastMinuteOffer"), "Matching offers.", _POSITION),
                       "400": _BAD, "503": _LOADING},
    "/v1/me": {
        "200": _json({"$ref": "#/components/schemas/Me"}, "The tenant the token names."),
        "401": _json(_PROBLEM, "No Authorization header, or one that is not `Bearer <token>` of an "
                     "active tenant.", _CHALLENGE),
        "503": _json(_PROBLEM, "The tenant directory is still loading from Kafka.", {
            "Retry-After": {"required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}})},
    "/v1/stream": {
        "200": {"description": ("Server-Sent Events until the client or the server ends the stream "
                                "(`schema`: one event; heartbeats are comments)."),
                "content": {"text/event-stream": {"schema": {"$ref": "#/components/schemas/Event"}}}},
        "400": _BAD, "503": _LOADING},
}


def _comma_list(items: Schema, description: str) -> dict[str, Any]:
    """A comma-separated list; blank items are ignored, so they are valid items."""
    return {"schema": {"type": "array", "items": {"anyOf": [items, _BLANK]}}, "style": "form",
            "explode": False, "description": description + " Blank items are ignored."}


PARAMETERS: dict[tuple[str, str], dict[str, Any]] = {
    ("/v1/performances/{performance_id}/availability", "performance_id"): {
        "schema": {"type": "string"}, "example": EXAMPLE_ID,
        "description": "Canonical performance id, URL-encoded (`|` as `%7C`, `#` as `%23`, `/` as `%2F`)."},
    ("/v1/productions/{production_id}/performances", "production_id"): {
        "schema": {"type": "string"}, "example": "dip-production|NL-23-1234-5",
        "description": ("A UiT production uuid, a DIP production id, a UiT event uuid, or a key of "
                        "`production_keys`, URL-encoded (`|` as `%7C`).")},
    ("/v1/productions/{production_id}/performances", "limit"): {
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_LIMIT, "default": 100},
        "description": "At most this many items."},
    ("/v1/availability", "status"): _comma_list(
        _STATUS, "Statuses, comma-separated (case-insensitive)."),
    ("/v1/availability", "from"): {"schema": _INSTANT, "description": (
        "Start at or after: YYYY-MM-DD (local midnight, Europe/Amsterdam) or an ISO 8601 date-time "
        "(without an offset: local time).")},
    ("/v1/availability", "to"): {"schema": _INSTANT, "description": (
        "Start before: an ISO 8601 date-time (without an offset: local time), or YYYY-MM-DD (that "
        "whole day included). Must be later than `from`.")},
    ("/v1/availability", "limit"): {"schema": {"type": "integer", "minimum": 0, "maximum": MAX_LIMIT,
                                               "default": 100}, "description": "At most this many items."},
    ("/v1/lastminute", "date"): _comma_list(
        {"anyOf": [{"type": "string", "enum": ["today", "tomorrow"]}, {"type": "string", "format": "date"}]},
        "Local days (Europe/Amsterdam): YYYY-MM-DD, today or tomorrow; comma-separated."),
    ("/v1/lastminute", "min_remaining"): {"schema": {"type": "integer", "minimum": 0},
                                          "description": "At least this many seats left."},
    ("/v1/lastminute", "limit"): {"schema": {"type": "integer", "minimum": 0, "maximum": MAX_LIMIT,
                                             "default": 100}, "description": "At most this many items."},
    ("/v1/stream", "topics"): _comma_list({"type": "string", "enum": ["availability", "lastminute"]},
                                          "Which changes: availability, lastminute or both (default)."),
    ("/v1/stream", "last_event_id"): {"schema": _EVENT_ID, "description": (
        "Resume after this event id (the `id` of the last event, or a snapshot's `last_event_id`).")},
    ("/v1/stream", "Last-Event-ID"): {"schema": _EVENT_ID, "description": (
        "As `last_event_id`; wins over it (browsers send it when they reconnect).")},
}

_STRING_PARAMETERS = {"region", "city", "genre", "performance_id"}  # any text: a filter


def _fix_parameters(path: str, op: dict[str, Any]) -> None:
    for param in op.get("parameters", []):
        name = param["name"]
        fixed = PARAMETERS.get((path, name))
        if fixed is not None:
            param.update(fixed)
        elif name in _STRING_PARAMETERS:
            param["schema"] = {"type": "string"}
        else:
            raise AssertionError(f"parameter {name!r} of {path} is not described in sinks/gateway/openapi.py")


def document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of the gateway app (built once, then cached on the app)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, description=app.description,
                      routes=app.routes)
    for path, ops in doc["paths"].items():
        for op in ops.values():
            _fix_parameters(path, op)
            responses = RESPONSES.get(path)
            if responses is None:
                raise AssertionError(f"responses of {path} are not described in sinks/gateway/openapi.py")
            op["responses"] = responses
            if path == "/v1/me":
                op["security"] = [{"tenantToken": []}]
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.update(COMPONENTS)
    doc["components"]["securitySchemes"] = SECURITY_SCHEMES
    app.openapi_schema = doc
    return doc
