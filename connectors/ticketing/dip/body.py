"""Reading a request body without holding more than the limit or waiting on a slow client.

The receiver decides on the headers first (token, declared ``Content-Length``) and only
then reads the body with :func:`read_body`: it stops at ``limit + 1`` bytes and gives up
after ``timeout_s`` seconds in all, so neither a large nor a dripping body can hold
memory or a connection for long.
"""

from __future__ import annotations

import asyncio

from starlette.requests import ClientDisconnect, Request

from connectors.sdk.errors import MappingError

__all__ = ["BODY_TIMEOUT_S", "BodyError", "BodyTimeout", "BodyTooLarge", "declared_too_large",
           "read_body"]

#: How long the whole body may take to arrive (``connector.body_timeout_s`` once settings
#: carry it).
BODY_TIMEOUT_S = 10.0


class BodyError(MappingError):
    """The body could not be read; ``status`` is the HTTP answer."""

    status = 400


class BodyTooLarge(BodyError):
    """The body is over the limit (413)."""

    status = 413


class BodyTimeout(BodyError):
    """The body did not arrive in time (408)."""

    status = 408


def declared_too_large(content_length: str | None, limit: int) -> BodyTooLarge | None:
    """The error for a declared ``Content-Length`` over ``limit``, if it is."""
    if content_length is None:
        return None
    try:
        size = int(content_length)
    except ValueError:
        return None  # the HTTP server refuses a malformed Content-Length itself
    if size <= limit:
        return None
    return BodyTooLarge(f"body of {size} bytes is over the limit of {limit} bytes "
                        "(connector.max_body_bytes)", field="body")


async def read_body(request: Request, limit: int, timeout_s: float) -> bytes:
    """The body, read in chunks.

    Raises:
        BodyTooLarge: declared or streamed past ``limit`` bytes (reading stops there).
        BodyTimeout: the body did not arrive within ``timeout_s`` seconds.
        BodyError: the client went away before sending all of it.

    """
    too_large = declared_too_large(request.headers.get("content-length"), limit)
    if too_large is not None:
        raise too_large
    buf = bytearray()
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                buf += chunk
                if len(buf) > limit:
                    raise BodyTooLarge(f"body is over the limit of {limit} bytes "
                                       "(connector.max_body_bytes)", field="body")
    except TimeoutError:
        raise BodyTimeout(f"body not received within {timeout_s:g} s ({len(buf)} bytes arrived); "
                          "send the whole body at once", field="body") from None
    except ClientDisconnect:
        raise BodyError("the client closed the connection before sending the whole body",
                        field="body") from None
    return bytes(buf)
