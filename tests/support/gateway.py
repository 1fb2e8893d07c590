"""The gateway for tests: its parts over a view filled by hand (no Kafka, a stopped clock),
and a whole gateway on a free loopback port, used once its ``/healthz`` answers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import httpx
from prometheus_client import CollectorRegistry

from bus.settings import Settings
from sinks.gateway.app import GatewayParts
from sinks.gateway.metrics import GatewayMetrics
from sinks.gateway.server import Gateway
from sinks.gateway.sse import Broadcaster
from sinks.gateway.view import View
from tests.support.waiting import wait_for

__all__ = ["gateway_parts", "serving_gateway", "wait_healthy"]


def gateway_parts(view: View, now: datetime, *, ready: bool = True, **options: Any) -> GatewayParts:
    """The app's parts over ``view`` with fresh metrics and the clock stopped at ``now``;
    ``ready`` (the view read to its end) or still loading; ``options`` as ``GatewayParts``
    takes them (``heartbeat_s``, say)."""
    metrics = GatewayMetrics(CollectorRegistry())
    parts = GatewayParts(view, Broadcaster(metrics), metrics, clock=lambda: now, **options)
    if ready:
        parts.ready.set()
    return parts


def wait_healthy(gateway: Gateway, timeout: float, interval: float = 0.05) -> Gateway:
    """``gateway`` once its ``/healthz`` answers 200 (its view loaded); fails the test when
    that takes longer than ``timeout`` seconds."""
    wait_for(lambda: httpx.get(f"{gateway.url}/healthz").status_code == 200, timeout,
             "the gateway's /healthz to answer 200", interval)
    return gateway


@contextmanager
def serving_gateway(settings: Settings, timeout: float, interval: float = 0.05,
                    **options: Any) -> Iterator[Gateway]:
    """``Gateway(settings, **options)`` on a free loopback port, once healthy (see
    :func:`wait_healthy`); closed on leaving."""
    gateway = Gateway(settings, host="127.0.0.1", port=0, **options).start()
    try:
        yield wait_healthy(gateway, timeout, interval)
    finally:
        gateway.close()
