"""`cultuurbus simulate` refuses contradictory options before touching anything."""

from __future__ import annotations

from click.testing import CliRunner

from bus.settings import Settings
from connectors.simulator.cli import simulate


def test_pace_and_fast_together_are_refused() -> None:
    result = CliRunner().invoke(simulate, ["--pace", "100", "--fast"], obj=Settings())
    assert result.exit_code == 2
    assert "--pace or --fast" in result.output


def test_fewer_performances_than_productions_is_refused() -> None:
    result = CliRunner().invoke(simulate, ["--productions", "9", "--performances", "5"],
                                obj=Settings())
    assert result.exit_code == 2
    assert "at least --productions" in result.output


def test_help_explains_every_option() -> None:
    out = CliRunner().invoke(simulate, ["--help"]).output
    for option in ("--seed", "--venues", "--productions", "--performances", "--truth", "--now",
                   "--pace", "--fast", "--calendar-last", "--webhook-url", "--only", "--workers"):
        assert option in out
