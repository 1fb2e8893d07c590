"""Errors of the Prometheus integration; every message says what to do next.

They derive from ``ops.stack.errors.StackError`` (itself a ``bus.errors.BusError``),
so ``cultuurbus stack up --with-prometheus`` reports them like any other stack error.
"""

from __future__ import annotations

from pathlib import Path

from ops.stack.errors import StackError

__all__ = ["GoMissingError", "PrometheusBuildError", "PrometheusError", "PrometheusQueryError",
           "PrometheusStartError"]


class PrometheusError(StackError):
    """Something about the local Prometheus could not be done."""


class GoMissingError(PrometheusError):
    """``go`` is not on PATH, so Prometheus cannot be built."""

    def __init__(self, version: str) -> None:
        super().__init__(
            f"go not found on PATH; it is needed to build Prometheus {version} (first run only). "
            "Install Go 1.26 or newer (https://go.dev/doc/install, or apt-get install golang-go "
            "where the distribution has a recent enough one) and run again"
        )


class PrometheusBuildError(PrometheusError):
    """``go`` failed to download or compile Prometheus."""


class PrometheusStartError(PrometheusError):
    """The Prometheus process exited or did not become ready in time."""

    def __init__(self, reason: str, log_file: Path) -> None:
        self.log_file = log_file
        super().__init__(f"prometheus: {reason}; read the log at {log_file}")


class PrometheusQueryError(PrometheusError):
    """The HTTP API answered a query with an error (bad PromQL, unreachable server)."""

    def __init__(self, promql: str, reason: str) -> None:
        self.promql = promql
        self.reason = reason
        super().__init__(f"prometheus query {promql!r} failed: {reason}")
