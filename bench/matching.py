"""Matching on a real-rules season: automatic links against the ground truth, and what
matching costs per calendar fact.

The season is simulated with ``identifiers="real"`` (a third of the vendor events carry
no sector id; venue pages and iCal feeds carry none at all). Every description the
connectors would publish is taken from the simulator's drivers mapped through the real
connector mapping functions (``connectors.simulator.descriptions``: no Kafka, so the
run needs no stack). They are fed as the worker does, one local calendar day at a
time in arrival order (calendars first, then vendor event items): a description with
a known identifier joins through the crosswalk; one whose identifiers are all unknown
goes to ``streams.identity.matching.Matcher``: ``new`` founds a performance (canonical
= its best key), ``link`` joins the target, ``review`` waits for a person.

Scored against the ground truth (``realism.description_refs``): a link is correct when
the target was founded by a description of the same season performance; recall is
over the descriptions that needed matching (all identifiers unknown, while a
description of the same performance had already founded one); a matinee/evening
confusion is a wrong link to another date of the same production, venue and day.

Cost: ``decide`` + ``add`` per description (median and p99 µs, descriptions per CPU
second), and identity learning per calendar fact with and without matching (the
crosswalk alone vs crosswalk + matcher), in process. The worker's events/s with
matching is not measured here: the streams part measures the worker as built.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from connectors.simulator.descriptions import Published, published_descriptions
from connectors.simulator.realism import DEFAULT_UNLINKED_SHARE
from connectors.simulator.season import build_season
from streams.identity.crosswalk import Crosswalk, best_key
from streams.identity.matching import Description, Matcher, description_of

__all__ = ["evaluate", "measure_matching"]

_TZ = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _days(published: list[Published]) -> list[list[tuple[Published, Description]]]:
    by_day: dict[object, list[tuple[Published, Description]]] = defaultdict(list)
    for p in published:
        by_day[p.performance.start.astimezone(_TZ).date()].append(
            (p, description_of(p.performance.model_dump())))
    return [by_day[d] for d in sorted(by_day)]  # type: ignore[type-var]


def evaluate(published: list[Published], matcher: Matcher) -> dict[str, Any]:
    """Feed ``published`` as the worker does; score the decisions against the truth."""
    crosswalk = Crosswalk()
    founder: dict[str, Published] = {}  # bus canonical id -> the description that founded it
    founded: set[str] = set()  # season performances some description founded already
    links = correct = needed = found = reviews = confusions = to_matcher = 0
    wrong: list[dict[str, Any]] = []
    missed: list[dict[str, Any]] = []
    decide_ns: list[int] = []
    cpu = 0.0
    for day in _days(published):
        for pub, desc in day:
            if crosswalk.resolve(desc.keys) is not None:
                crosswalk.learn(list(desc.keys))
                continue
            to_matcher += 1
            need = pub.truth in founded
            needed += need
            t0, c0 = time.perf_counter_ns(), time.process_time()
            decision = matcher.decide(desc)
            if decision.outcome == "link" and decision.target is not None:
                matcher.add(desc, decision.target)
            elif decision.outcome == "new":
                matcher.add(desc, best_key(desc.keys))
            cpu += time.process_time() - c0
            decide_ns.append(time.perf_counter_ns() - t0)
            if need and decision.outcome != "link" and len(missed) < 10:
                missed.append({"description": pub.performance.performance_key,
                               "title": pub.performance.title, "outcome": decision.outcome,
                               "score": round(decision.score, 1), "reason": decision.reason})
            if decision.outcome == "review":
                reviews += 1
            elif decision.outcome == "new":
                canonical = best_key(desc.keys)
                for k in desc.keys:
                    crosswalk.put(k, canonical)
                founder[canonical] = pub
                founded.add(pub.truth)
            elif decision.target is not None:
                for k in desc.keys:
                    crosswalk.put(k, decision.target)
                links += 1
                target = founder.get(decision.target)
                if target is not None and target.truth == pub.truth:
                    correct += 1
                    found += need
                else:
                    confusions += _same_day_sibling(pub, target)
                    wrong.append({"description": pub.performance.performance_key,
                                  "title": pub.performance.title, "target": decision.target,
                                  "score": round(decision.score, 1), "reason": decision.reason})
    us = sorted(ns / 1000 for ns in decide_ns)
    return {
        "descriptions": len(published), "to_matcher": to_matcher, "needed_matching": needed,
        "links": links, "correct_links": correct, "reviews": reviews,
        "precision": correct / links if links else 1.0,
        "recall": found / needed if needed else 1.0,
        "matinee_evening_confusions": confusions,
        "review_share": reviews / to_matcher if to_matcher else 0.0,
        "us_median": statistics.median(us) if us else 0.0,
        "us_p99": us[min(len(us) - 1, int(0.99 * len(us)))] if us else 0.0,
        "per_cpu_s": len(us) / cpu if cpu > 0 else 0.0,
        "wrong_links": wrong[:10], "missed": missed,
    }


def _same_day_sibling(pub: Published, target: Published | None) -> int:
    if target is None:
        return 0
    a, b = pub.performance, target.performance
    same_day = a.start.astimezone(_TZ).date() == b.start.astimezone(_TZ).date()
    return int(same_day and pub.truth != target.truth and pub.truth.split("|")[:2] ==
               target.truth.split("|")[:2] and a.start != b.start)


def _learn_rate(published: list[Published], with_matcher: bool, rounds: int = 3) -> float:
    """Calendar facts per CPU second through identity learning (best of ``rounds``)."""
    best = 0.0
    for _ in range(rounds):
        crosswalk, matcher = Crosswalk(), Matcher()
        c0 = time.process_time()
        for day in _days(published):
            for _pub, desc in day:
                if crosswalk.resolve(desc.keys) is not None or not with_matcher:
                    crosswalk.learn(list(desc.keys))
                    continue
                decision = matcher.decide(desc)
                target = decision.target if decision.outcome == "link" else best_key(desc.keys)
                if decision.outcome != "review" and target is not None:
                    matcher.add(desc, target)
                    for k in desc.keys:
                        crosswalk.put(k, target)
        cpu = time.process_time() - c0
        best = max(best, len(published) / cpu if cpu > 0 else 0.0)
    return best


def measure_matching(seed: int = 42, venues: int = 24, productions: int = 60,
                     performances: int = 600, share: float = DEFAULT_UNLINKED_SHARE,
                     say: Any = print) -> dict[str, Any]:
    """The ``matching`` part: one real-rules season, scored and timed."""
    season = build_season(seed, venues=venues, productions=productions, performances=performances,
                          now=NOW, identifiers="real", unlinked_share=share)
    vendor = [p for p in season.performances if p.vendor_id is not None]
    published = published_descriptions(season)
    scored = evaluate(published, Matcher())
    plain, matched = _learn_rate(published, False), _learn_rate(published, True)
    out = {**scored, "season": {"seed": seed, "venues": venues, "productions": productions,
                                "performances": performances,
                                "vendor_events": len(vendor),
                                "without_sector_id": sum(not p.vendor_field for p in vendor)},
           "learn_per_cpu_s": {"crosswalk": plain, "crosswalk_and_matcher": matched}}
    say(f"matching: {scored['links']} auto-links, precision {scored['precision']:.4f}, recall "
        f"{scored['recall']:.4f} of {scored['needed_matching']} needing a match, "
        f"{scored['matinee_evening_confusions']} matinee/evening confusions, "
        f"{scored['review_share']:.1%} to review; {scored['us_median']:.0f} µs median per "
        f"description; learning {plain:,.0f} -> {matched:,.0f} facts/CPU-s with matching")
    return out
