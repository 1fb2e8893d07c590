"""Reading a request body without ever holding more than the limit."""

from __future__ import annotations

from starlette.requests import Request

from connectors.ticketing.webhook.errors import BodyTooLarge

__all__ = ["read_body"]


async def read_body(request: Request, limit: int) -> bytes:
    """The body, or ``BodyTooLarge`` as soon as Content-Length or the stream passes ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            size = -1
        if size > limit:
            raise BodyTooLarge(f"body of {size} bytes is over the limit of {limit} bytes "
                               "(CULTUURBUS_CONNECTOR__MAX_BODY_BYTES)", field="body")
    buf = bytearray()
    async for chunk in request.stream():
        buf += chunk
        if len(buf) > limit:
            raise BodyTooLarge(f"body is over the limit of {limit} bytes "
                               "(CULTUURBUS_CONNECTOR__MAX_BODY_BYTES)", field="body")
    return bytes(buf)
