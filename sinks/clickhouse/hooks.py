"""Points inside the sink where a test harness may act: injected by the caller, never
exposed by the CLI. A crash test holds the sink between a confirmed insert and the
offset commit (the window a ``kill -9`` must survive) through :attr:`SinkHooks.before_commit`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["HOOKS_META_KEY", "SinkHooks"]

#: Key of a :class:`SinkHooks` in the root ``click.Context.meta`` (a test entry module
#: puts it there before invoking the CLI; ``cultuurbus sink clickhouse`` passes it on).
HOOKS_META_KEY = "cultuurbus.sink.hooks"


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class SinkHooks:
    """Callables the sink calls at fixed points of a batch's life.

    Args:
        before_commit: runs after a batch's inserts and dead letters were acknowledged,
            right before its offsets are committed (in the loop's thread).

    """

    before_commit: Callable[[], None] = _nothing
