"""Logs an operator reads at 3 a.m.: errors keep their tracebacks in both formats."""

from __future__ import annotations

import json
import logging

import pytest

from bus.log import configure_logging, get_logger


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
