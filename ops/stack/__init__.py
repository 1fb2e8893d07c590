"""Local service stack: Kafka 4 (KRaft), schema registry, ClickHouse on loopback, and
on request Prometheus with the consumer-lag exporter (``--with-prometheus``).

Use :class:`StackManager` from code and ``cultuurbus stack up|down|status|targets`` from
a shell; :mod:`ops.stack.pipeline` runs the bus's roles against it. The manager and
services are imported lazily so that the ClickHouse server process
(``python -m ops.stack.clickhouse_server``) loads chdb before any other native library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ops.stack.errors import MissingToolError, PortInUseError, ServiceStartError, StackError
from ops.stack.settings import StackSettings

if TYPE_CHECKING:
    from ops.stack.manager import SERVICE_NAMES, StackManager
    from ops.stack.service import ServiceStatus

__all__ = [
    "SERVICE_NAMES",
    "MissingToolError",
    "PortInUseError",
    "ServiceStartError",
    "ServiceStatus",
    "StackError",
    "StackManager",
    "StackSettings",
]


def __getattr__(name: str) -> Any:
    if name in ("StackManager", "SERVICE_NAMES"):
        from ops.stack import manager

        return getattr(manager, name)
    if name == "ServiceStatus":
        from ops.stack.service import ServiceStatus

        return ServiceStatus
    raise AttributeError(f"module 'ops.stack' has no attribute {name!r}")
