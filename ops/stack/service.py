"""What every server of the local stack provides to the manager.

Lifecycle of a ``Service``, driven by :class:`ops.stack.manager.StackManager`:

- ``fetch(echo)`` downloads what the service needs (once; ``cultuurbus stack
  fetch`` runs only this).
- ``setup(echo)`` runs before every start: fetch binaries once, write the
  configuration, prepare storage. Idempotent.
- ``command()`` / ``env()`` / ``cwd`` describe the detached process the manager
  spawns; its pid goes to ``pid_file``, its output to ``log_file``.
- ``probe()`` may run at any time and never raises: is the service answering?
- ``configure()`` runs once per start, after the first healthy probe (e.g. the
  registry's global compatibility level).
- Stopping is the manager's job: SIGTERM to the recorded pid, SIGKILL as a last
  resort after ``stop_grace_s``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ops.stack.settings import StackSettings

__all__ = ["Echo", "Probe", "Service", "ServiceStatus"]

Echo = Callable[[str], None]


@dataclass(frozen=True)
class Probe:
    """Outcome of one health check.

    Attributes:
        healthy: The service answered as expected.
        version: Version it reported, when it answered.
        detail: Why it is not healthy, or a short note when it is.

    """

    healthy: bool
    version: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class ServiceStatus:
    """One row of ``cultuurbus stack status``.

    Attributes:
        name: ``kafka``, ``registry`` or ``clickhouse``.
        version: Version reported by the running service, else the installed one.
        address: Where clients connect.
        healthy: Running (by our pid file) and answering.
        pid: Pid of the running process, ``None`` when it is not running.
        detail: Human-readable state, e.g. ``"down (stale pid file, pid 123 is gone)"``.

    """

    name: str
    version: str | None
    address: str
    healthy: bool
    pid: int | None
    detail: str


class Service(ABC):
    """A server of the local stack, rooted in ``<stack dir>/<name>``.

    Args:
        settings: The stack settings.
        root: Absolute stack directory (``settings.dir`` resolved).
        downloads: Absolute download cache.

    """

    name: ClassVar[str]
    start_timeout_s: ClassVar[float] = 120.0
    stop_grace_s: ClassVar[float] = 30.0

    def __init__(self, settings: StackSettings, root: Path, downloads: Path) -> None:
        self.settings = settings
        self.root = root
        self.downloads = downloads

    @property
    def work_dir(self) -> Path:
        """Configuration and data of this service: ``<stack dir>/<name>``."""
        return self.root / self.name

    @property
    def pid_file(self) -> Path:
        """``<stack dir>/<name>.pid``, present while the manager believes it runs."""
        return self.root / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        """``<stack dir>/logs/<name>.log``: the process's stdout and stderr."""
        return self.root / "logs" / f"{self.name}.log"

    @property
    def marker(self) -> str:
        """A string every command line of this service contains (guards pid reuse)."""
        return str(self.work_dir)

    @property
    def cwd(self) -> Path:
        """Working directory of the server process."""
        return self.work_dir

    @property
    @abstractmethod
    def address(self) -> str:
        """Where clients connect (bootstrap servers or URL)."""

    @abstractmethod
    def ports(self) -> dict[int, str]:
        """Ports this service binds, each with the environment variable that moves it."""

    def fetch(self, echo: Echo) -> None:  # noqa: B027 - optional hook
        """Download binaries into the cache if missing; nothing to do by default."""

    @abstractmethod
    def setup(self, echo: Echo) -> None:
        """Fetch, configure and prepare storage; runs before every start."""

    @abstractmethod
    def command(self) -> list[str]:
        """The argv of the server process."""

    def env(self) -> dict[str, str] | None:
        """Environment of the server process; ``None`` inherits ours."""
        return None

    @abstractmethod
    def probe(self) -> Probe:
        """Check health now; never raises, bounded to a few seconds."""

    def configure(self, echo: Echo) -> None:  # noqa: B027 - optional hook
        """Apply run-time configuration after the first healthy probe."""

    @abstractmethod
    def installed_version(self) -> str | None:
        """Version of the installed binaries, without asking the server."""
