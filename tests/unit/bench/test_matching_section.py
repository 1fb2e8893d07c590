"""The matching bench section scores the matcher against the simulator's ground truth
and reports it in the results table (in process: no stack)."""

from __future__ import annotations

from bench.matching import measure_matching
from bench.report import fold, markdown


def test_matching_section_reports_precision_recall_review_share_and_cost() -> None:
    got = measure_matching(venues=6, productions=6, performances=30, say=lambda m: None)
    assert 0 <= got["precision"] <= 1 and 0 <= got["recall"] <= 1
    assert got["needed_matching"] > 0 and got["links"] > 0
    assert got["us_median"] > 0 and got["per_cpu_s"] > 0
    assert got["learn_per_cpu_s"]["crosswalk"] > 0
    doc = fold(None, {"matching": got}, {"parts": ["matching"], "generated_at": "t", "mode": "smoke",
                                          "wall_s": 1, "load_1m_start": 0, "load_1m_end": 0})
    table = markdown(doc)
    assert "automatic links: precision" in table and "matinee/evening confusions" in table
