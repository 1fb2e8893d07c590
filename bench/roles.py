"""The bus's real roles as subprocesses: start with settings in the environment, wait
until healthy, read peak memory, stop by pid.

A role is what ``cultuurbus <command>`` runs in production (``streams worker``, ``sink
clickhouse``, ``gateway``, ``connector webhook``); the bench only passes settings
through ``CULTUURBUS_*`` variables, the way ``ops.demo`` launches them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bus.kafka import kafka_env
from bus.settings import Settings

__all__ = ["REPO", "Role", "RoleError", "cpu_seconds", "peak_rss_mb", "role_env", "running",
           "stop_process_group", "wait_for"]

REPO = Path(__file__).resolve().parents[1]


class RoleError(RuntimeError):
    """A role did not start or died; the message names its log."""


def role_env(settings: Settings, state: Path, **extra: str) -> dict[str, str]:
    """Environment of a role: the bus settings as ``CULTUURBUS_*`` (with their Kafka login)
    plus ``extra`` (e.g. another principal's ``CULTUURBUS_KAFKA__*``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CULTUURBUS_")}
    env.update(kafka_env(settings.kafka))
    if settings.registry.basic_auth_user_info is not None:
        user_info = settings.registry.basic_auth_user_info.get_secret_value()
        env["CULTUURBUS_REGISTRY__BASIC_AUTH_USER_INFO"] = user_info
    env.update({
        "CULTUURBUS_REGISTRY__URL": settings.registry.url,
        "CULTUURBUS_CLICKHOUSE__URL": settings.clickhouse.url,
        "CULTUURBUS_CLICKHOUSE__DATABASE": settings.clickhouse.database,
        "CULTUURBUS_TOPIC_PREFIX": settings.topic_prefix,
        "CULTUURBUS_SINK__GROUP_ID": settings.sink.group_id,
        "CULTUURBUS_STREAMS__DATA_DIR": str(state / "streams"),
        "CULTUURBUS_LOG_FORMAT": "json",
        "CULTUURBUS_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO),
    })
    env.update(extra)
    return env


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a live process has used so far, in seconds; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a live process, in MiB; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class Role:
    """One role process.

    Lifecycle: ``start()`` spawns it in its own session (output to ``log``);
    ``wait_healthy()`` polls ``health_url`` until 200; ``stop()`` sends SIGTERM and
    waits (bounded), then SIGKILL; ``peak_rss_mb()`` reads VmHWM while it lives.
    """

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    health_url: str | None = None
    url: str | None = None  # base URL of its HTTP API or metrics, when it has one
    proc: subprocess.Popen[bytes] | None = None
    peak_mb: float = 0.0

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} not started"
        return self.proc.pid

    def start(self) -> Role:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            # from the checkout its PYTHONPATH ends with (this one unless an A/B says otherwise)
            code = self.env.get("PYTHONPATH", str(REPO)).split(os.pathsep)[-1]
            self.proc = subprocess.Popen([sys.executable, "-m", "ops.cli", *self.argv], env=self.env,
                                         cwd=code, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check(self) -> None:
        if not self.alive():
            raise RoleError(f"{self.name} exited (code {self.proc.returncode if self.proc else None}); "
                            f"see {self.log}")

    def wait_healthy(self, timeout: float = 90.0) -> None:
        """Poll the health URL until it answers 200 (bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check()
            if self.health_url is None:
                return
            try:
                if httpx.get(self.health_url, timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RoleError(f"{self.name} not healthy at {self.health_url} after {timeout:.0f} s; see {self.log}")

    def cpu_seconds(self) -> float:
        """CPU seconds the process has used so far (0 when it is not running)."""
        return cpu_seconds(self.pid) if self.alive() else 0.0

    def peak_rss_mb(self) -> float:
        if self.alive():
            self.peak_mb = max(self.peak_mb, peak_rss_mb(self.pid))
        return round(self.peak_mb, 1)

    def signal_stop(self) -> None:
        """Send SIGTERM (after noting the peak RSS); ``stop()`` waits for the exit."""
        if self.proc is not None and self.proc.poll() is None:
            self.peak_rss_mb()
            os.killpg(self.proc.pid, signal.SIGTERM)

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.peak_rss_mb()
        stop_process_group(self.proc, timeout)


@contextmanager
def running(*roles: Role, timeout: float = 90.0) -> Iterator[list[Role]]:
    """Start ``roles``, wait until each is healthy, stop them all on the way out."""
    started: list[Role] = []
    try:
        for r in roles:
            started.append(r.start())
        for r in roles:
            r.wait_healthy(timeout)
        yield started
    finally:
        for r in reversed(started):  # all at once: shutdowns overlap
            r.signal_stop()
        for r in reversed(started):
            r.stop()


def wait_for(cond: Callable[[], bool], timeout: float, what: str, every: float = 0.05,
             watch: tuple[Role, ...] = ()) -> None:
    """Poll ``cond`` until true (bounded); raise naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while not cond():
        for r in watch:
            r.check()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not done after {timeout:.0f} s")
        time.sleep(every)


def stop_process_group(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """SIGTERM the process group of ``proc`` (started with ``start_new_session``), then
    SIGKILL it if it has not ended within ``timeout`` seconds."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
