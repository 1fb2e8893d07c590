"""Detached server processes tracked by pid files.

A stack service runs as its own session leader, outliving the command that started
it; its pid is kept in ``<stack dir>/<name>.pid``. Before trusting a pid read from a
file we check that the process is alive (not a zombie) and that its command line
still mentions the stack directory, so a recycled pid is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "PidState",
    "inspect_pid_file",
    "port_is_free",
    "spawn_detached",
    "terminate",
]


@dataclass(frozen=True)
class PidState:
    """What a pid file says about its process.

    Attributes:
        pid: The recorded pid, when the file exists and holds a number.
        alive: The recorded process is running and is ours.
        stale: A pid file exists but its process is gone (or is someone else's).

    """

    pid: int | None
    alive: bool
    stale: bool


def _reap(pid: int) -> None:
    """Collect the exit status if ``pid`` is our own child, so it is no zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _proc_state(pid: int) -> str | None:
    """The one-letter state from ``/proc/<pid>/stat``; ``None`` when unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Format: "pid (comm) S ..."; comm may contain spaces and parentheses.
    return stat.rsplit(")", 1)[1].split()[0]


def _cmdline(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace")


def is_alive(pid: int, marker: str | None = None) -> bool:
    """Whether ``pid`` runs (zombies count as dead) and, on Linux, mentions ``marker``."""
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process: not ours
    if _proc_state(pid) in ("Z", "X"):
        return False
    if marker is not None:
        cmdline = _cmdline(pid)
        if cmdline is not None and marker not in cmdline:
            return False
    return True


def inspect_pid_file(pid_file: Path, marker: str | None = None) -> PidState:
    """Read ``pid_file`` and tell whether its process is alive and ours."""
    try:
        text = pid_file.read_text().strip()
    except FileNotFoundError:
        return PidState(pid=None, alive=False, stale=False)
    try:
        pid = int(text)
    except ValueError:
        return PidState(pid=None, alive=False, stale=True)
    alive = is_alive(pid, marker)
    return PidState(pid=pid, alive=alive, stale=not alive)


def spawn_detached(
    argv: Sequence[str],
    *,
    cwd: Path,
    log_file: Path,
    pid_file: Path,
    env: Mapping[str, str] | None = None,
) -> int:
    """Start ``argv`` in a new session with output appended to ``log_file``.

    The pid is written to ``pid_file`` before returning.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(  # noqa: S603 - argv is built by the stack, never from input
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    pid_file.write_text(f"{proc.pid}\n")
    # Forget the Popen object on purpose: the process outlives this one. Liveness
    # checks reap it if it is our child (see is_alive).
    return proc.pid


def terminate(pid: int, *, grace_s: float, marker: str | None = None) -> str:
    """SIGTERM ``pid``, wait up to ``grace_s``, then SIGKILL as a last resort.

    Returns:
        ``"stopped"``, ``"killed"`` (needed SIGKILL) or ``"not running"``.

    """
    if not is_alive(pid, marker):
        return "not running"
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not is_alive(pid):
            return "stopped"
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline and is_alive(pid):
        time.sleep(0.1)
    return "killed"


def port_is_free(host: str, port: int) -> bool:
    """Whether nothing listens on ``host:port`` (a connect attempt is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) != 0
