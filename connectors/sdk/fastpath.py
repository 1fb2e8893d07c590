"""The receivers' hot calls, answered before FastAPI sees them.

A receiver (webhook, DIP) is a FastAPI app for its OpenAPI document, docs, health and
metrics; its deliveries are one path shape that needs none of FastAPI's routing,
dependency solving, middleware or exception layers. :class:`FastPathApp` is that app
with a first look at every HTTP request: its ``fast_path`` answers the requests it
recognises itself and hands the others to FastAPI (the ``app`` it is given), as an
outermost middleware would. With no fast path set, FastAPI serves everything. The
FastAPI routes of the deliveries stay, for the OpenAPI document, and answer the same.

What the fast path skips, per delivery: FastAPI's own call (its OpenTelemetry check looks
up the global tracer provider on every request), Starlette's ``ServerErrorMiddleware``,
FastAPI's exception-telemetry and body-limit middleware. A fast path must therefore answer
every request it takes and never raise (the receivers' ``handle`` answer 500 themselves);
if it does raise, uvicorn logs it and answers 500, as Starlette's error middleware would.

:class:`JsonAnswer` renders with orjson: the same compact UTF-8 JSON as Starlette's
``JSONResponse`` for what the answers hold (strings, integers, lists, objects, null), at a
fraction of the CPU. (A float NaN, which no answer holds, would be written as null where
Starlette refuses it.)

Perf notes (``bench/results/issue14``, the receivers at 32 requests in flight): the
layers skipped were 6% of the Eventix receiver's CPU and 10% of the DIP receiver's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["FastPath", "FastPathApp", "JsonAnswer"]

#: ``(scope, receive, send, app)``: answers an HTTP request, or hands it to ``app`` (the
#: FastAPI app, with a ``send`` of its choosing).
FastPath = Callable[[Scope, Receive, Send, ASGIApp], Awaitable[None]]


class FastPathApp(FastAPI):
    """FastAPI whose ``fast_path`` (None: none) sees each HTTP request first."""

    fast_path: FastPath | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast = self.fast_path
        if fast is not None and scope["type"] == "http":
            await fast(scope, receive, send, self._fastapi)
        else:
            await super().__call__(scope, receive, send)

    async def _fastapi(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)


class JsonAnswer(JSONResponse):
    """``JSONResponse`` rendered by orjson."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
