"""What the A/B tools (``bench.receivers_ab``, ``bench.availability_ab``) share: checkouts
named on the command line, and one bench stack they all take turns on."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from bench.env import STACK_DIR, Bench, bench_stack, preflight

__all__ = ["checkouts", "run_ab"]


def checkouts(codes: tuple[str, ...]) -> dict[str, Path]:
    """``NAME=PATH`` options -> name -> checkout.

    Raises:
        click.BadParameter: not ``NAME=PATH``, or PATH is no checkout of this project.

    """
    named = {}
    for item in codes:
        name, _, path = item.partition("=")
        if not name or not path or not Path(path, "ops", "cli.py").is_file():
            raise click.BadParameter(f"{item!r}: give NAME=PATH of a checkout of this project",
                                     param_hint="--code")
        named[name] = Path(path).resolve()
    return named


def run_ab(prefix: str, measure: Callable[[Bench], dict[str, Any]], out: Path | None) -> None:
    """``measure`` on a fresh bench stack; the result printed (and written to ``out``) as JSON."""
    with bench_stack(False) as base:
        preflight(base)
        bench = Bench(base, Path(tempfile.mkdtemp(prefix=prefix, dir=STACK_DIR)), quiet=True)
        result = measure(bench)
    text = json.dumps(result, indent=2)
    print(text)
    if out is not None:
        out.write_text(text + "\n")
