"""The availability gateway: a local view of the compacted availability and last-minute
topics, served as HTTP JSON, Server-Sent Events and a live web board.

Names load on first use, so ``cultuurbus --help`` does not import FastAPI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sinks.gateway.app import GatewayParts, create_app
    from sinks.gateway.auth import BearerAuth, TenantGate
    from sinks.gateway.errors import BadParameterError, GatewayError
    from sinks.gateway.loader import ViewLoader
    from sinks.gateway.metrics import GatewayMetrics
    from sinks.gateway.server import Gateway
    from sinks.gateway.sse import Broadcaster, StreamFilter
    from sinks.gateway.view import AvailabilityQuery, Change, LastMinuteQuery, View

_WHERE = {
    "AvailabilityQuery": "view", "BadParameterError": "errors", "BearerAuth": "auth",
    "Broadcaster": "sse",
    "Change": "view", "Gateway": "server", "GatewayError": "errors", "GatewayMetrics": "metrics",
    "GatewayParts": "app", "LastMinuteQuery": "view", "StreamFilter": "sse", "View": "view",
    "TenantGate": "auth", "ViewLoader": "loader", "create_app": "app",
}

__all__ = [
    "AvailabilityQuery",
    "BadParameterError",
    "BearerAuth",
    "Broadcaster",
    "Change",
    "Gateway",
    "GatewayError",
    "GatewayMetrics",
    "GatewayParts",
    "LastMinuteQuery",
    "StreamFilter",
    "TenantGate",
    "View",
    "ViewLoader",
    "create_app",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'sinks.gateway' has no attribute {name!r}")
    return getattr(importlib.import_module(f"sinks.gateway.{module}"), name)
