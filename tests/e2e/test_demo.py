"""`cultuurbus demo --short` runs to its end against the real stack and the bus's final
availability matches the simulator's ground truth."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.streams.harness import REPO, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def test_short_demo_runs_to_its_end_and_matches_the_truth(stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CULTUURBUS_")}
    env.update({
        "CULTUURBUS_STACK_DIR": str(stack.dir),
        "CULTUURBUS_STACK_KAFKA_PORT": str(stack.kafka_port),
        "CULTUURBUS_STACK_KAFKA_CONTROLLER_PORT": str(stack.kafka_controller_port),
        "CULTUURBUS_STACK_REGISTRY_PORT": str(stack.registry_port),
        "CULTUURBUS_STACK_CLICKHOUSE_HTTP_PORT": str(stack.clickhouse_http_port),
        "CULTUURBUS_STACK_CLICKHOUSE_TCP_PORT": str(stack.clickhouse_tcp_port),
        "CULTUURBUS_STACK_DOWNLOADS_DIR": str(stack.downloads),
        "CULTUURBUS_TOPIC_PREFIX": f"demo{os.getpid()}.",
        "CULTUURBUS_GATEWAY__PORT": str(free_port()),
        "CULTUURBUS_SINK__METRICS_PORT": str(free_port()),
        "CULTUURBUS_STREAMS__WEB_PORT": str(free_port()),
        "PYTHONPATH": str(REPO),
    })
    proc = subprocess.run([sys.executable, "-m", "ops.cli", "demo", "--short", "--minutes", "6",
                           "--no-prometheus"], env=env, cwd=REPO, capture_output=True, timeout=600)
    out = proc.stdout.decode()
    assert proc.returncode == 0, out[-3000:] + proc.stderr.decode()[-3000:]
    assert "24/24 performances match the simulator's ground truth" in out
    # The stack was running before the demo: the demo must leave it running.
    assert "stack left running" in out
