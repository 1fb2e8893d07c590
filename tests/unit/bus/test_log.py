"""Logs an operator reads at 3 a.m.: errors keep their tracebacks in both formats."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time

import pytest

from bus.log import configure_logging, get_logger
from tests.support import REPO_ROOT


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_logged_exception_keeps_its_traceback(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", fmt)
    try:
        try:
            {}["missing"]  # noqa: B018
        except KeyError:
            get_logger("cultuurbus.test").exception("loader stopped", extra={"performance_id": "p1"})
        err = capsys.readouterr().err
    finally:
        logging.getLogger().handlers.clear()
    text = json.loads(err)["exc"] if fmt == "json" else err
    assert "Traceback (most recent call last)" in text
    assert "KeyError: 'missing'" in text
    assert "loader stopped" in err and "p1" in err



def test_sigusr1_writes_every_threads_stack_to_the_log_of_a_process_that_is_stuck() -> None:
    """An operator's ``kill -USR1`` on a role that makes no progress shows where it waits."""
    code = ("import threading, time\n"
            "from bus.log import configure_logging\n"
            "configure_logging('INFO', 'text')\n"
            "def waits_for_the_broker():\n"
            "    time.sleep(60)\n"
            "threading.Thread(target=waits_for_the_broker, daemon=True).start()\n"
            "print('ready', flush=True)\n"
            "time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(0.2)
        proc.send_signal(signal.SIGUSR1)
        time.sleep(0.5)
        assert proc.poll() is None  # the dump does not stop it
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=10)
    assert "waits_for_the_broker" in err and "Current thread" in err
