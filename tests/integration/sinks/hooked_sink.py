"""The ClickHouse sink's own CLI with test hooks injected, for crash tests:
``python -m tests.integration.sinks.hooked_sink sink clickhouse [OPTIONS]``.

The product CLI exposes no test hook; this entry module puts a
:class:`sinks.clickhouse.hooks.SinkHooks` where ``sink clickhouse`` looks for one (the
root context's ``meta``), built from the environment:

``SINK_TEST_PAUSE_BEFORE_COMMIT_S``
    seconds to hold the sink between a batch's confirmed write and its offset commit
    (the window a ``kill -9`` must survive).
"""

from __future__ import annotations

import os
import sys
import time

import click

from bus.log import get_logger
from sinks.clickhouse.__main__ import main
from sinks.clickhouse.hooks import HOOKS_META_KEY, SinkHooks

__all__ = ["ENTRY", "PAUSE_BEFORE_COMMIT_ENV", "hooks_from_env"]

#: This module, for ``python -m``.
ENTRY = __spec__.name if __spec__ is not None else "tests.integration.sinks.hooked_sink"
PAUSE_BEFORE_COMMIT_ENV = "SINK_TEST_PAUSE_BEFORE_COMMIT_S"

log = get_logger("tests.hooked_sink")


def hooks_from_env(env: dict[str, str] | None = None) -> SinkHooks:
    """The hooks the environment asks for."""
    pause_s = float((os.environ if env is None else env).get(PAUSE_BEFORE_COMMIT_ENV) or 0)

    def before_commit() -> None:
        if pause_s > 0:
            log.warning("test hook: pausing between insert and commit", extra={"seconds": pause_s})
            time.sleep(pause_s)

    return SinkHooks(before_commit=before_commit)


def run(argv: list[str]) -> None:
    try:
        with main.make_context("hooked_sink", argv) as ctx:
            ctx.meta[HOOKS_META_KEY] = hooks_from_env()
            main.invoke(ctx)
    except click.exceptions.Exit as exc:  # --help
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    run(sys.argv[1:])
