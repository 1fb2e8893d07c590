"""Waiting for a condition with a deadline, instead of sleeping a guessed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

__all__ = ["wait_for", "wait_until"]


def wait_until(check: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
    """Call ``check()`` until it returns something truthy or ``timeout`` passes; return
    its last value (falsy when the time ran out)."""
    deadline = time.monotonic() + timeout
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = check()
    return value


def wait_for(condition: Callable[[], Any], timeout_s: float, what: str, interval: float = 0.2) -> None:
    """``wait_until``, failing the test with ``what`` when the time runs out."""
    if not wait_until(condition, timeout_s, interval):
        pytest.fail(f"timed out after {timeout_s}s waiting for {what}")
