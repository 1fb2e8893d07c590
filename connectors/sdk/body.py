"""Reading a request body without holding more than the limit or waiting on a slow client.

Every HTTP receiver reads its bodies with :func:`read_body`: a declared
``Content-Length`` over the limit is refused before a byte is read, the stream stops at
``limit + 1`` bytes and the whole body must arrive within ``timeout_s`` seconds, so
neither a large nor a dripping body can hold memory or a connection for long. A
receiver that can judge a call on its headers alone (a token) asks
:func:`declared_too_large` first and answers before reading anything.
"""

from __future__ import annotations

import asyncio

from starlette.requests import ClientDisconnect, Request

from connectors.sdk.errors import MappingError

__all__ = ["BodyError", "BodyTimeout", "BodyTooLarge", "declared_too_large", "read_body"]

_LIMIT = "CULTUURBUS_CONNECTOR__MAX_BODY_BYTES"
_TIMEOUT = "CULTUURBUS_CONNECTOR__BODY_TIMEOUT_S"


class BodyError(MappingError):
    """The body could not be read; ``status`` is the HTTP answer, ``field`` is ``body``."""

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
    return BodyTooLarge(f"body of {size} bytes is over the limit of {limit} bytes ({_LIMIT})",
                        field="body")


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
                    raise BodyTooLarge(f"body is over the limit of {limit} bytes ({_LIMIT})",
                                       field="body")
    except TimeoutError:
        raise BodyTimeout(f"body not received within {timeout_s:g} s ({len(buf)} bytes arrived; "
                          f"{_TIMEOUT}); send the whole body at once", field="body") from None
    except ClientDisconnect:
        raise BodyError("the client closed the connection before sending the whole body",
                        field="body") from None
    return bytes(buf)
