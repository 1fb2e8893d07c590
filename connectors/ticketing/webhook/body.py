"""Reading a request body without ever holding more than the limit, and decoding it."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request

from connectors.sdk.jsonbody import BadJson, load_json
from connectors.ticketing.webhook.errors import BodyTooLarge

__all__ = ["parse_json", "read_body"]


async def read_body(request: Request, limit: int,
                    why: str = "CULTUURBUS_CONNECTOR__MAX_BODY_BYTES") -> bytes:
    """The body, or ``BodyTooLarge`` as soon as Content-Length or the stream passes ``limit``
    (``why`` names where the limit comes from)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            size = -1
        if size > limit:
            raise BodyTooLarge(f"body of {size} bytes is over the limit of {limit} bytes "
                               f"({why})", field="body")
    buf = bytearray()
    async for chunk in request.stream():
        buf += chunk
        if len(buf) > limit:
            raise BodyTooLarge(f"body is over the limit of {limit} bytes ({why})", field="body")
    return bytes(buf)


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def parse_json(body: bytes) -> Any:
    """The decoded body (``load_json``), refusing text no Avro string can hold.

    JSON may spell a lone UTF-16 surrogate (backslash ``ud800``); Python decodes it into a
    string that cannot be written as UTF-8, so a fact carrying it would be acknowledged
    and then fail to serialise. Only bodies that spell a surrogate escape are walked.

    Raises:
        BadJson: see ``load_json``; or a string holds a lone surrogate.

    """
    payload = load_json(body)
    if _SURROGATE_ESCAPE.search(body) is None:
        return payload
    stack: list[Any] = [payload]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise BadJson("body holds a lone UTF-16 surrogate escape (\\ud800-\\udfff) in "
                              "a string, which is not text; send valid Unicode") from None
    return payload
