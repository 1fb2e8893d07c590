"""The demo's live table shows start times as a Dutch or Flemish reader reads them."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console

from bus.localtime import local_text
from ops.demo_board import Board


def _render(board: Board) -> str:
    console = Console(width=160, record=True)
    console.print(board.table(elapsed=1.0, sim_running=True))
    return console.export_text()


def test_a_summer_evening_show_reads_in_local_summer_time_and_says_so() -> None:
    board = Board(availability={"p1": {
        "performance_id": "p1", "title": "Hamlet", "venue_name": "Stadsschouwburg",
        "start": datetime(2027, 6, 5, 18, 15, tzinfo=UTC), "capacity": 500, "sold": 10,
        "remaining": 490, "status": "AVAILABLE"}})
    text = _render(board)
    assert "Sat 05 Jun 20:15 CEST" in text
    assert "18:15" not in text
    assert "local time" in text


def test_winter_and_flemish_venues_have_their_labels() -> None:
    when = datetime(2027, 1, 9, 19, 0, tzinfo=UTC)
    assert local_text(when) == "Sat 09 Jan 20:00 CET"
    assert local_text(when, "BE") == "Sat 09 Jan 20:00 CET"
