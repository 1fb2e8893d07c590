"""The HTTP API of a running Prometheus, as the stack, the dashboards' tests and
``cultuurbus stack targets`` use it: readiness, version, instant and range queries,
active targets. ``PrometheusServer`` (``ops.prometheus.server``) is one; any object with
a ``url`` can be.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from ops.prometheus.errors import PrometheusQueryError

__all__ = ["PrometheusApi", "ScrapeTarget"]


def _unix(stamp: Any) -> float:
    """An RFC 3339 time from the API as Unix seconds; 0 when absent (Go's zero time)."""
    try:
        return max(datetime.fromisoformat(str(stamp)).timestamp(), 0.0)
    except ValueError:
        return 0.0


@dataclass(frozen=True)
class ScrapeTarget:
    """One active target as ``/api/v1/targets`` reports it.

    Attributes:
        job: The scrape job (role).
        instance: ``host:port``.
        health: ``up``, ``down`` or ``unknown`` (not scraped yet).
        last_error: Why the last scrape failed, empty when it worked.
        last_scrape: Unix time of the last scrape, 0 before the first.

    """

    job: str
    instance: str
    health: str
    last_error: str
    last_scrape: float = 0.0


class PrometheusApi:
    """Calls to the Prometheus at ``self.url``."""

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:9090``."""
        raise NotImplementedError

    def healthy(self) -> bool:
        """``/-/ready`` answers 200 (the TSDB is open and the config loaded). Never raises."""
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def version(self) -> str | None:
        """The version the server reports (``/api/v1/status/buildinfo``); never raises."""
        try:
            body = httpx.get(f"{self.url}/api/v1/status/buildinfo", timeout=2.0).json()
        except (httpx.HTTPError, ValueError):
            return None
        version = body.get("data", {}).get("version") if isinstance(body, dict) else None
        return str(version) if version else None

    def _api(self, path: str, form: dict[str, str], what: str) -> dict[str, Any]:
        try:
            response = httpx.post(f"{self.url}{path}", data=form, timeout=15.0)
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise PrometheusQueryError(what, f"no answer from {self.url}: {exc}") from exc
        if body.get("status") != "success":
            raise PrometheusQueryError(what, f"{body.get('errorType')}: {body.get('error')}")
        data: dict[str, Any] = body["data"]
        return data

    def query(self, promql: str, at: float | None = None) -> dict[str, Any]:
        """Evaluate an instant query through ``/api/v1/query``.

        Args:
            promql: The expression.
            at: Evaluation time (Unix seconds); default now.

        Returns:
            The API's ``data``: ``{"resultType": ..., "result": [...]}``.

        Raises:
            PrometheusQueryError: Invalid PromQL, an evaluation error, or no answer.

        """
        form = {"query": promql}
        if at is not None:
            form["time"] = f"{at:.3f}"
        return self._api("/api/v1/query", form, promql)

    def query_range(self, promql: str, start: float, end: float, step: float) -> dict[str, Any]:
        """Evaluate a range query through ``/api/v1/query_range``, as a graph panel does.

        Returns:
            The API's ``data``: ``{"resultType": "matrix", "result": [{"metric", "values"}]}``.

        Raises:
            PrometheusQueryError: Invalid PromQL, an evaluation error, or no answer.

        """
        form = {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        return self._api("/api/v1/query_range", form, promql)

    def active_targets(self) -> list[ScrapeTarget]:
        """The targets Prometheus scrapes now: ``job``, ``instance``, ``health``, ``last_error``.

        Raises:
            PrometheusQueryError: Prometheus did not answer.

        """
        try:
            body = httpx.get(f"{self.url}/api/v1/targets", params={"state": "active"},
                             timeout=10.0).json()
        except (httpx.HTTPError, ValueError) as exc:
            raise PrometheusQueryError("targets", f"no answer from {self.url}: {exc}") from exc
        return [ScrapeTarget(job=str(t.get("labels", {}).get("job", "")),
                             instance=str(t.get("labels", {}).get("instance", "")),
                             health=str(t.get("health", "unknown")),
                             last_error=str(t.get("lastError", "")),
                             last_scrape=_unix(t.get("lastScrape")))
                for t in body.get("data", {}).get("activeTargets", [])]
