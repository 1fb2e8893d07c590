"""Two roles on one host: a taken port is a clear message naming the setting to change."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from prometheus_client import CollectorRegistry

from bus.errors import ConfigError
from bus.metrics import MetricsServer


def test_a_taken_metrics_port_names_the_setting_that_moves_it() -> None:
    first = MetricsServer(CollectorRegistry(), 0).start()
    try:
        with pytest.raises(ConfigError, match=f"127.0.0.1:{first.port}.*move it with --my-port"):
            MetricsServer(CollectorRegistry(), first.port, setting="--my-port").start()
    finally:
        first.close()


def _on_a_taken_port(*args: str) -> tuple[int, str]:
    """Run ``cultuurbus ARGS`` (``{port}`` replaced by a port in use); exit code, stderr."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("CULTUURBUS_")}
        env["CULTUURBUS_KAFKA__BOOTSTRAP_SERVERS"] = "127.0.0.1:1"  # never reached
        proc = subprocess.run(
            [sys.executable, "-m", "ops.cli", *(a.format(port=port) for a in args)],
            env=env, capture_output=True, text=True, timeout=60)
    assert f"127.0.0.1:{port}" in proc.stderr
    return proc.returncode, proc.stderr


def test_a_second_connector_on_the_default_port_exits_with_one_line_naming_the_option() -> None:
    code, stderr = _on_a_taken_port("connector", "--metrics-port", "{port}", "uitdatabank",
                                    "--base-url", "http://127.0.0.1:1", "--client-id", "x")
    assert code == 1
    assert "Traceback" not in stderr
    assert "cultuurbus connector --metrics-port N" in stderr


def test_a_second_gateway_on_a_taken_port_exits_with_one_line_naming_the_option() -> None:
    code, stderr = _on_a_taken_port("gateway", "--port", "{port}")
    assert code == 1
    assert "Traceback" not in stderr
    assert "cultuurbus gateway --port N" in stderr and "CULTUURBUS_GATEWAY__PORT" in stderr
