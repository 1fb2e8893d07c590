"""The DIP receiver's OpenAPI document: what each call takes and every answer it gives.

The handlers read raw bytes (bounded, timed) and validate them with ``payloads``, so
FastAPI neither parses nor validates the bodies; this module describes them: the body
models under ``components/schemas`` (where their ``$ref`` values resolve), the answers and
their headers, the path ids' patterns, and the bearer token when the receiver has one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

from connectors.ticketing.dip.payloads import PARTS

__all__ = ["HELD_RESPONSES", "NUMBER_PATTERN", "PRODUCTION_PATTERN", "RESPONSES", "SECURITY",
           "body_doc", "install"]

PRODUCTION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
NUMBER_PATTERN = r"^0*[0-9]{1,5}$"  # DIP numbers: at most five digits (00003), zeros before them allowed
#: The security requirement of every call that takes or returns data.
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}]


class Line(BaseModel):
    tickets: int
    recette: int


class Reservations(BaseModel):
    reservations: int
    value: int


class Blocked(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    blocked_seats: int = Field(alias="blockedSeats")
    value: int


class Tickets(BaseModel):
    """Cumulative tickets and recette per ticket type."""

    normal: Line | None = None
    discount: Line | None = None
    free: Line | None = None
    other: Line | None = None


class Held(BaseModel):
    """What the receiver holds for a performance; ``null`` = never reported."""

    model_config = ConfigDict(populate_by_name=True)
    performance: str = Field(description="dip|<production>|<number>, the Kafka key")
    tickets: Tickets | None
    reservations: Reservations | None
    blocked_seats: Blocked | None = Field(alias="blockedSeats")
    capacity: int | None


class Accepted(Held):
    """A call published as a snapshot and acknowledged by Kafka."""

    status: Literal["accepted"]
    fact_id: str
    event_time: datetime


class Refused(BaseModel):
    """A call not accepted: what was wrong and where (``field``), and what to do."""

    status: Literal["rejected", "unavailable", "error"]
    error: str
    field: str | None = None
    dead_lettered: bool | None = None


def _header(text: str) -> dict[str, Any]:
    return {"description": text, "required": True, "schema": {"type": "string"}}


_CLOSE = {"Connection": _header("close: the rest of the body is not read.")}
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Refused, "description": "Missing or wrong bearer token (when the receiver has "
          "one); nothing is read or kept.",
          "headers": {"WWW-Authenticate": _header("Bearer")}},
    404: {"model": Refused, "description": "No such call (an empty path segment)."},
    422: {"model": Refused, "description": "A path id, field or time the contract cannot carry: "
          "`field` names it (e.g. `capacity`, `normal.tickets`, `updated`, `path.number`); a "
          "PUT's body is dead-lettered."},
    500: {"model": Refused, "description": "Unexpected error; nothing was accepted, send again."},
    503: {"model": Refused, "description": "Kafka unavailable; send the call again after "
          "Retry-After.", "headers": {"Retry-After": _header("Seconds to wait.")}},
}
#: Answers of a ``PUT``.
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": Accepted, "description": "Snapshot published and acknowledged by Kafka; the "
          "body shows the performance's merged numbers."},
    400: {"model": Refused, "description": "Body is not a JSON object (not UTF-8, invalid, nested "
          "too deep, a number of thousands of digits); dead-lettered."},
    408: {"model": Refused, "description": "The body did not arrive within "
          "connector.body_timeout_s.", "headers": _CLOSE},
    413: {"model": Refused, "description": "Body (declared or sent) over "
          "connector.max_body_bytes; refused before it is read.", "headers": _CLOSE},
    **_ERRORS,
}
#: Answers of ``GET .../cumulative``.
HELD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": Held, "description": "The latest parts accepted for the performance."},
    **_ERRORS,
}


def body_doc(part: str) -> dict[str, Any]:
    """The ``openapi_extra`` of a ``PUT``: its body, a ``$ref`` into the components."""
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{PARTS[part].__name__}"}}}}}


def _path_ids(doc: dict[str, Any]) -> None:
    for ops in doc.get("paths", {}).values():
        for op in ops.values():
            for param in op.get("parameters", []):
                if param.get("in") == "path" and param["name"] == "production":
                    param["schema"]["pattern"] = PRODUCTION_PATTERN
                elif param.get("in") == "path" and param["name"] == "number":
                    param["schema"]["pattern"] = NUMBER_PATTERN


def install(app: FastAPI, *, secured: bool) -> None:
    """Give ``app`` this document: body schemas in the components, path id patterns, and
    (``secured``) the bearer scheme on every operation that declares ``SECURITY``."""
    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, description=app.description,
                              routes=app.routes)
            components = doc.setdefault("components", {})
            schemas = components.setdefault("schemas", {})
            for model in PARTS.values():
                schema = model.model_json_schema(by_alias=True,
                                                 ref_template="#/components/schemas/{model}")
                schemas.update(schema.pop("$defs", {}))
                schemas[model.__name__] = schema
            _path_ids(doc)
            if secured:
                components["securitySchemes"] = {"bearer": {
                    "type": "http", "scheme": "bearer",
                    "description": "The receiver's token (--token / CULTUURBUS_DIP_TOKEN)."}}
            else:
                for ops in doc.get("paths", {}).values():
                    for op in ops.values():
                        op.pop("security", None)
                        op.get("responses", {}).pop("401", None)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]
