"""ClickHouse from the chdb-core wheel, serving HTTP and native TCP on loopback.

The server process is :mod:`ops.stack.clickhouse_server`, started with the same
interpreter that runs the stack. Data lives in ``<stack dir>/clickhouse/data``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import sys

import httpx
from typing_extensions import override

from ops.stack.errors import StackError
from ops.stack.service import Echo, Probe, Service
from ops.stack.tools import OPS_DIR

__all__ = ["ClickHouseService"]

PROJECT_ROOT = OPS_DIR.parent


class ClickHouseService(Service):
    """chdb-core's ClickHouse engine in server mode."""

    name = "clickhouse"
    start_timeout_s = 60.0
    stop_grace_s = 20.0

    @property
    @override
    def address(self) -> str:
        return self.settings.clickhouse_url

    @override
    def ports(self) -> dict[int, str]:
        return {
            self.settings.clickhouse_http_port: "CULTUURBUS_STACK_CLICKHOUSE_HTTP_PORT",
            self.settings.clickhouse_tcp_port: "CULTUURBUS_STACK_CLICKHOUSE_TCP_PORT",
        }

    @override
    def installed_version(self) -> str | None:
        try:
            return f"chdb-core {importlib.metadata.version('chdb-core')}"
        except importlib.metadata.PackageNotFoundError:
            return None

    @override
    def setup(self, echo: Echo) -> None:
        if importlib.util.find_spec("chdb") is None:
            raise StackError(
                f"{self.name}: the chdb engine is not installed in {sys.executable}; "
                "install it with: pip install chdb-core==26.9.0"
            )
        self.work_dir.mkdir(parents=True, exist_ok=True)

    @override
    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "ops.stack.clickhouse_server",
            "--dir",
            str(self.work_dir),
            "--http-port",
            str(self.settings.clickhouse_http_port),
            "--tcp-port",
            str(self.settings.clickhouse_tcp_port),
        ]

    @override
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        # `-m ops.stack.clickhouse_server` must import this checkout, installed or not.
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
        return env

    @override
    def probe(self) -> Probe:
        try:
            with httpx.Client(base_url=self.address, timeout=3.0) as http:
                ping = http.get("/ping")
                if ping.status_code != 200 or ping.text.strip() != "Ok.":
                    return Probe(False, None, f"/ping -> {ping.status_code} {ping.text.strip()!r}")
                version = http.get("/", params={"query": "SELECT version()"})
                if version.status_code != 200:
                    return Probe(False, None, f"SELECT version() -> {version.status_code}")
        except httpx.HTTPError as exc:
            return Probe(False, None, f"not answering: {exc}")
        return Probe(True, version.text.strip(), "HTTP answers")
