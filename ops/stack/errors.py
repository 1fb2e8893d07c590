"""Errors of the local stack; every message says what to do next.

``StackError`` derives from the project's root ``bus.errors.BusError``, so the
``cultuurbus`` command reports it like any other bus error.
"""

from __future__ import annotations

from pathlib import Path

from bus.errors import BusError

__all__ = ["MissingToolError", "PortInUseError", "ServiceStartError", "StackError"]


class StackError(BusError):
    """Something in the local stack could not be done."""


class MissingToolError(StackError):
    """A program the stack needs (``java``, ``mvn``) is not on PATH."""

    def __init__(self, tool: str, needed_for: str) -> None:
        self.tool = tool
        super().__init__(
            f"{tool} not found on PATH; it is needed for {needed_for}. "
            "Install it with: apt-get install openjdk-17-jre-headless maven"
        )


class PortInUseError(StackError):
    """A port the stack wants to bind is taken by a process the stack did not start."""

    def __init__(self, service: str, address: str, env_var: str) -> None:
        super().__init__(
            f"{service}: {address} is already in use by a process this stack did not start; "
            f"stop that process or choose another port with {env_var}"
        )


class ServiceStartError(StackError):
    """A service was started but did not become healthy in time (or exited)."""

    def __init__(self, service: str, reason: str, log_file: Path) -> None:
        self.service = service
        self.log_file = log_file
        super().__init__(f"{service}: {reason}; read the log at {log_file}")
