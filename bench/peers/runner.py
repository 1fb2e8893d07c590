"""Running the peers against the same data as our worker, timed the same way.

The Quix Streams peer gets its own virtualenv, ``bench/.venv-quix`` (created on first
use with ``pip install 'quixstreams[avro]>=3.28,<4'``; git-ignored), because Quix
Streams pins confluent-kafka and pydantic below what the bus uses. The plain loop runs
in the bus's own virtualenv.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.data import Dataset
from bench.env import Bench
from bench.feed import Feed
from bench.options import Sizes
from bench.peers.login import LOGIN_ENV, REGISTRY_LOGIN_ENV
from bench.roles import REPO, cpu_seconds, peak_rss_mb
from bus.kafka import librdkafka_config
from bus.settings import KafkaSettings, RegistrySettings, Settings
from bus.topics import ATTENDANCE, AVAILABILITY, PERFORMANCES, SALES, TICKET_EVENTS

__all__ = ["QUIX_REQUIREMENT", "QUIX_VENV", "ensure_quix_venv", "measure_peers"]

QUIX_VENV = REPO / "bench" / ".venv-quix"
QUIX_REQUIREMENT = "quixstreams[avro]>=3.28,<4"


def ensure_quix_venv(say: Any = print, venv: Path = QUIX_VENV) -> Path:
    """The Quix virtualenv's python, creating the virtualenv on first use (bounded)."""
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    if python.exists() and marker.exists() and marker.read_text() == QUIX_REQUIREMENT:
        return python
    say(f"peers: creating {venv} with {QUIX_REQUIREMENT} (first run only)")
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--clear", str(venv)], check=True, timeout=120)
    subprocess.run([str(python), "-m", "pip", "install", "-q", QUIX_REQUIREMENT], check=True, timeout=600)
    subprocess.run([str(python), "-c", "import quixstreams, fastavro"], check=True, timeout=120)
    marker.write_text(QUIX_REQUIREMENT)
    return python


def login_config(kafka: KafkaSettings) -> dict[str, str]:
    """The security part of ``kafka``'s librdkafka properties, for a peer (peers/login.py)."""
    return {k: str(v) for k, v in librdkafka_config(kafka).items()
            if k == "security.protocol" or k.startswith("sasl.")}


class _Peer:
    """A peer process; stopped with SIGTERM (bounded), then SIGKILL."""

    def __init__(self, name: str, argv: list[str], log: Path, kafka: KafkaSettings | None = None,
                 registry: RegistrySettings | None = None) -> None:
        self.name = name
        log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        if kafka is not None:  # the peer logs in as the bench does (admin); see peers/login.py
            env[LOGIN_ENV] = json.dumps(login_config(kafka))
        if registry is not None and registry.basic_auth_user_info is not None:
            env[REGISTRY_LOGIN_ENV] = registry.basic_auth_user_info.get_secret_value()
        with log.open("ab") as out:
            self.proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self.log = log
        self.peak_mb = 0.0

    def check(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"peer {self.name} exited (code {self.proc.returncode}); see {self.log}")

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.proc.pid) if self.proc.poll() is None else 0.0

    def rss(self) -> float:
        if self.proc.poll() is None:
            self.peak_mb = max(self.peak_mb, peak_rss_mb(self.proc.pid))
        return round(self.peak_mb, 1)

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.rss()
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


def _run(bench: Bench, ds: Dataset, sizes: Sizes, name: str, python: str, module: str,
         extra: list[str], whole_job: bool = False, tag: str = "") -> dict[str, Any]:
    """One peer on fresh topics (``tag`` tells runs of one bench apart)."""
    s: Settings = bench.fresh(f"p{name[:4]}{'j' if whole_job else ''}{tag}")
    p = s.topic_prefix
    if whole_job:
        extra = [*extra, "--attendance", p + ATTENDANCE, "--sales", p + SALES]
    argv = [python, "-m", module, "--bootstrap", s.kafka.bootstrap_servers, "--registry", s.registry.url,
            "--calendar", p + PERFORMANCES, "--tickets", p + TICKET_EVENTS, "--output", p + AVAILABILITY,
            "--group", f"peer-{p.strip('.')}", "--threshold", str(s.streams.limited_threshold), *extra]
    feed = Feed(s, ds, bench.registry, cap_s=sizes.max_wait_s)
    peer = _Peer(name, argv, bench.state / p.strip(".") / f"{name}.log", s.kafka, s.registry)
    t_start = time.monotonic()
    try:
        cal = feed.calendar((peer,))
        started = time.monotonic() - t_start
        out = feed.tickets((peer,))
        out["calendar"] = cal
        out["ready_s"] = round(started, 2)
        out["rss_mb"] = peer.rss()
    finally:
        feed.close()
        peer.stop()
    state = "" if out["complete"] else " (cut short)"
    bench.say(f"peers: {name} {out['processed_events']:,} ticket events in {out['seconds']:.1f} s = "
              f"{out['eps']:,.0f} events/s{state}")
    return out


def measure_peers(bench: Bench, ds: Dataset, sizes: Sizes) -> dict[str, Any]:
    """Events/s of the Quix Streams peers (availability only; the worker's whole job,
    ``bench.peers.quix_job``) and the plain loop on the streams run's data."""
    out: dict[str, Any] = {}
    quix = ensure_quix_venv(bench.say)
    out["quix"] = _run(bench, ds, sizes, "quix", str(quix), "bench.peers.quix_availability",
                       ["--state-dir", str(bench.state / "quix-state")])
    out["quix_job"] = _run(bench, ds, sizes, "quix_job", str(quix), "bench.peers.quix_job",
                           ["--state-dir", str(bench.state / "quix-job-state")], whole_job=True)
    out["plain_loop"] = _run(bench, ds, sizes, "plain", sys.executable, "bench.peers.plain_availability", [])
    return out
