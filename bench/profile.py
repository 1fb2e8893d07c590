"""Sampling profiles of role processes with py-spy, reduced to the top hot spots.

``Profiler(pid, seconds).start()`` runs ``py-spy record --nonblocking --gil`` (the role
is not paused while sampled, so the throughput measured alongside is not disturbed; only
threads holding the GIL are sampled, so waits in epoll or in librdkafka's poll do not
count) and writes collapsed stacks; ``result()`` waits for it and returns where the
samples were: by own time (the leaf Python frame) and by total time (anywhere on the
stack, for the bus's own code, leaving out the entry points every sample passes).
py-spy needs ptrace rights on the target (root, or ``CAP_SYS_PTRACE``); without them,
or when py-spy cannot be installed (it is in the ``bench`` extra and installed on first
use), the profile says why instead.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

__all__ = ["Profiler", "hot_spots"]

OUR_CODE = ("(bus/", "(schemas/", "(connectors/", "(streams/", "(sinks/")
#: Entry points of the roles: on nearly every stack, so they say nothing.
ENTRY = ("(bus/cli.py",
         "(streams/worker.py", "(streams/cli.py", "(sinks/clickhouse/cli.py", "ClickHouseSink.run (",
         "(connectors/ticketing/webhook/cli.py", "(sinks/gateway/cli.py", "(sinks/gateway/server.py")


PY_SPY = "py-spy>=0.4,<0.5"  # as in pyproject's ``bench`` extra


def _py_spy() -> str | None:
    """py-spy next to this Python (installed from the ``bench`` extra on first use), or on PATH."""
    local = Path(sys.executable).with_name("py-spy")
    if not local.exists() and shutil.which("py-spy") is None:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", PY_SPY], capture_output=True,
                       timeout=300)
    return str(local) if local.exists() else shutil.which("py-spy")


def hot_spots(raw: str, top: int = 5) -> dict[str, Any]:
    """Top functions of collapsed stacks (``frame;frame;leaf count`` per line)."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in raw.splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        samples += n
        frames = [f.strip() for f in stack.split(";") if f.strip()]
        if not frames:
            continue
        own[frames[-1]] += n
        for frame in {f.rsplit(":", 1)[0] for f in frames
                      if any(p in f for p in OUR_CODE) and not any(e in f for e in ENTRY)}:
            total[frame + ")"] += n

    def pct(c: Counter[str], skip_entry: bool = False) -> list[dict[str, Any]]:
        rows = [(f, k) for f, k in c.most_common() if not (skip_entry and k >= 0.9 * samples)]
        return [{"function": f, "percent": round(100 * k / samples, 1)} for f, k in rows[:top]]

    return {"samples": samples, "own": pct(own), "total": pct(total, skip_entry=True)}


class Profiler:
    """py-spy on one process for ``seconds`` (see the module docstring)."""

    def __init__(self, pid: int, seconds: float, out: Path, rate: int = 67) -> None:
        self.pid = pid
        self.seconds = max(1, int(seconds))
        self.out = out
        self.rate = rate
        self._proc: subprocess.Popen[bytes] | None = None
        self._error: str | None = None

    def start(self) -> Profiler:
        exe = _py_spy()
        if exe is None:
            self._error = "py-spy not installed (pip install -e '.[bench]')"
            return self
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._proc = subprocess.Popen(
            [exe, "record", "--nonblocking", "--gil", "--pid", str(self.pid), "--duration", str(self.seconds),
             "--rate", str(self.rate), "--format", "raw", "--output", str(self.out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return self

    def stop(self) -> None:
        """End sampling early (py-spy writes what it has on SIGINT)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(2)

    def result(self, timeout: float = 30.0) -> dict[str, Any]:
        if self._proc is None:
            return {"error": self._error or "not started"}
        try:
            _, err = self._proc.communicate(timeout=self.seconds + timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            _, err = self._proc.communicate(timeout=5)
        if not self.out.exists():
            return {"error": f"py-spy wrote no profile: {err.decode(errors='replace').strip()[-300:]}"}
        return hot_spots(self.out.read_text())
