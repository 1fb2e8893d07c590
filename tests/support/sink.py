"""The ClickHouse sink as a subprocess with exactly a test's settings, for crash tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bus.kafka import kafka_env
from bus.serde import registry_env
from bus.settings import Settings
from ops.stack.pipeline import Role
from ops.stack.ports import free_ports
from tests.support import REPO_ROOT

__all__ = ["SinkProcess", "sink_env"]


def sink_env(settings: Settings, metrics_port: int = 0) -> dict[str, str]:
    """Environment for a sink subprocess with exactly these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CULTUURBUS_")}
    s = settings.sink
    env.update({
        "CULTUURBUS_CONFIG_FILE": os.devnull,
        # The settings' own login (the test observer): sink tests use groups of their own.
        **kafka_env(settings.kafka),
        **({"CULTUURBUS_REGISTRY__BASIC_AUTH_USER_INFO": settings.registry.basic_auth_user_info.get_secret_value()}
           if settings.registry.basic_auth_user_info else {}),
        **registry_env(settings.registry),
        "CULTUURBUS_CLICKHOUSE__URL": settings.clickhouse.url,
        "CULTUURBUS_CLICKHOUSE__DATABASE": settings.clickhouse.database,
        "CULTUURBUS_TOPIC_PREFIX": settings.topic_prefix,
        "CULTUURBUS_SINK__GROUP_ID": s.group_id,
        "CULTUURBUS_SINK__BATCH_MAX_ROWS": str(s.batch_max_rows),
        "CULTUURBUS_SINK__BATCH_MAX_SECONDS": str(s.batch_max_seconds),
        "CULTUURBUS_SINK__BACKOFF_MAX_S": str(s.backoff_max_s),
        "CULTUURBUS_SINK__METRICS_PORT": str(metrics_port),
        "CULTUURBUS_LOG_FORMAT": "text",
        "PYTHONPATH": str(REPO_ROOT),
    })
    return env


class SinkProcess:
    """``python -m sinks.clickhouse sink clickhouse`` as a subprocess, for crash tests.

    Lifecycle: ``start()`` spawns it; ``kill9()`` crashes it; ``terminate()`` sends
    SIGTERM and waits (graceful stop: flush, commit, close).
    """

    def __init__(self, settings: Settings, log: Path, *args: str, entry: str = "sinks.clickhouse",
                 env: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.log = log
        self.args = args
        self.entry = entry  # a test entry module may inject hooks the product CLI does not offer
        self.env = env or {}
        (self.metrics_port,) = free_ports(1)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> SinkProcess:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.entry, "sink", "clickhouse", *self.args],
                env={**sink_env(self.settings, self.metrics_port), **self.env}, stdout=out,
                stderr=subprocess.STDOUT, cwd=REPO_ROOT, start_new_session=True)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def metric(self, name: str) -> float:
        """Sum of a metric's samples from /metrics (0 while it cannot be read)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics",  # noqa: S310
                                        timeout=2) as r:
                text = r.read().decode()
        except OSError:
            return 0.0
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith(name + "{") or line.startswith(name + " "))

    def diagnosis(self, expected: str = "") -> str:
        """For a failure message: what it counted, then every thread's stack (SIGUSR1) and
        the end of its log."""
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGUSR1)
            time.sleep(1.0)
        counted = {name: self.metric(name) for name in (
            "cultuurbus_sink_records_in_total", "cultuurbus_sink_rows_written_total",
            "cultuurbus_sink_assigned_partitions", "cultuurbus_sink_consumer_lag_records")}
        return f"{expected} counted {counted}\n" + self.log.read_text(errors="replace")[-6000:]

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 60.0) -> int:
        """Stop it as the demo stops a role (SIGTERM, a bounded wait, SIGKILL as a last
        resort); its exit code."""
        assert self.proc is not None
        Role("sink", [], self.log, proc=self.proc).stop(timeout)
        return int(self.proc.returncode)
