"""``python -m tests.support.sink_paused sink clickhouse ...``: the product's sink command
with a pause between a batch's confirmed inserts and its offset commit, the window a crash
test kills the sink in. The pause is injected through ``ClickHouseSink(before_commit=...)``;
the product CLI does not offer it. ``SINK_PAUSE_BEFORE_COMMIT_S`` sets the seconds (default
600).
"""

from __future__ import annotations

import functools
import logging
import os
import time

from sinks.clickhouse import __main__ as entry
from sinks.clickhouse import cli
from sinks.clickhouse.batch import Batch
from sinks.clickhouse.sink import ClickHouseSink

PAUSE_ENV = "SINK_PAUSE_BEFORE_COMMIT_S"


def _pause(seconds: float, batch: Batch) -> None:
    logging.getLogger("tests.sink_paused").warning(
        "test hook: pausing between insert and commit (%s records, %s s)", len(batch), seconds)
    time.sleep(seconds)


if __name__ == "__main__":
    hook = functools.partial(_pause, float(os.environ.get(PAUSE_ENV, "600")))
    cli.ClickHouseSink = functools.partial(ClickHouseSink, before_commit=hook)  # type: ignore[misc]
    entry.main()
