"""``cultuurbus demo``: the whole bus on this machine, watching a season sell.

Brings the local stack up (Kafka, schema registry, ClickHouse, and Prometheus with the
consumer-lag exporter when it can be built), applies topics and schemas, starts the
roles as their own processes (a streams worker, the ClickHouse sink, the gateway and the
webhook receiver, see :class:`ops.stack.pipeline.Pipeline`), points Prometheus at them,
plays the simulator's season through the real connectors at a watchable pace, and shows
a live table of performances read from the availability topic. It ends by itself (or
runs on with ``--forever``), prints a summary that compares the bus's final availability
with the simulator's ground truth and, once the sink has caught up, the sales and
audience monitors from ClickHouse, then stops what it started.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from bus.errors import BusError
from bus.localtime import local_text
from bus.settings import Settings
from connectors.simulator.model import Season
from connectors.simulator.season import build_season
from connectors.simulator.truth import compute_truth
from ops.demo_board import Board, BoardReader
from ops.demo_tenants import demo_tenants, start_tenants
from ops.stack.errors import StackError
from ops.stack.manager import CORE_SERVICES, MONITORING_SERVICES, StackManager
from ops.stack.pipeline import Pipeline, Role, settings_for_stack
from ops.stack.settings import StackSettings
from sinks.clickhouse.connect import connect_clickhouse
from sinks.clickhouse.reports import ReportTable, audience_report, sales_report

__all__ = ["DemoOptions", "pace_of", "run_demo", "season_facts", "settings_for_stack", "simulator_args"]


@dataclass(frozen=True)
class DemoOptions:
    """What ``cultuurbus demo`` was asked for (see its ``--help``)."""

    minutes: float = 3.0
    forever: bool = False
    short: bool = False
    seed: int = 42
    performances: int = 60
    pace: float | None = None
    keep_stack: bool = False
    prometheus: bool = True
    report_wait_s: float = 120.0
    report_rows: int = 10


def _compare(truth: dict[str, Any], board: Board) -> tuple[int, list[str]]:
    ok, bad = 0, []
    for pid, want in truth.get("performances", {}).items():
        have = board.availability.get(pid)
        if have and (have["sold"], have["remaining"], have["status"]) == (
                want["sold"], want["remaining"], want["availability"]):
            ok += 1
        else:
            got = None if have is None else (have["sold"], have["remaining"], have["status"])
            bad.append(f"{pid}: bus {got} truth {(want['sold'], want['remaining'], want['availability'])}")
    return ok, bad


class _Monitoring:
    """Prometheus and the lag exporter for the demo: started when not running (and then
    stopped at the end), pointed at the demo's roles (and pointed back at the end)."""

    def __init__(self, manager: StackManager, console: Console) -> None:
        self.manager = manager
        self.console = console
        self.started: list[str] = []
        self.previous: dict[str, list[str]] | None = None
        self.url: str | None = None

    def start(self) -> None:
        running = {row.name for row in self.manager.status(MONITORING_SERVICES) if row.healthy}
        self.started = [name for name in MONITORING_SERVICES if name not in running]
        try:
            if self.started:
                self.manager.up(self.started)
        except StackError as exc:
            self.console.print(f"[yellow]Prometheus not started: {exc}[/] (the demo goes on without it)")
            self.finish()
            return
        self.url = self.manager.prometheus.address

    def scrape(self, targets: dict[str, list[str]]) -> None:
        if self.url is None:
            return
        self.previous = self.manager.prometheus.targets()
        self.manager.prometheus.set_targets(targets)

    def finish(self) -> None:
        if self.started:
            self.manager.down(self.started)
        elif self.previous is not None:
            self.manager.prometheus.set_targets(self.previous, replace=True)
        self.started, self.previous, self.url = [], None, None


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float | Decimal) else 0.0


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return local_text(value)
    if isinstance(value, float | Decimal):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return str(value)


def _rich(table: ReportTable, rows: Sequence[tuple[Any, ...]], limit: int, more: str,
          drop: Sequence[str] = ("performance_id",)) -> Table:
    """A report table as a compact rich table: at most ``limit`` rows, ids left out."""
    keep = [i for i, c in enumerate(table.columns) if c not in drop]
    t = Table(title=table.name.replace("_", " "), title_justify="left")
    for i in keep:
        numeric = any(isinstance(r[i], int | float | Decimal) for r in rows)
        t.add_column(table.columns[i], justify="right" if numeric else "left", max_width=30)
    for row in rows[:limit]:
        t.add_row(*(_cell(row[i]) for i in keep))
    notes = list(table.notes)
    if len(rows) > limit:
        notes.append(f"{len(rows) - limit} more rows: {more}")
    t.caption = "; ".join(notes) or None
    return t


def _print_reports(settings: Settings, truth: dict[str, Any], console: Console,
                   options: DemoOptions) -> bool:
    """The sales and audience monitors from ClickHouse, once the sink holds the truth's
    tickets (bounded wait); True when ClickHouse's total equals the truth's."""
    ids = set(truth.get("performances", {}))
    want = truth.get("totals", {}).get("sold")
    client = connect_clickhouse(settings.clickhouse)
    deadline = time.monotonic() + (options.report_wait_s if want is not None else 0)

    def ours(row: tuple[Any, ...]) -> bool:  # without a truth: whatever ClickHouse holds
        return not ids or row[0] in ids

    while True:
        sales = sales_report(client, limit=100_000)
        occupancy = [r for r in sales[0].rows if ours(r)]
        have = int(sum(_number(r[sales[0].columns.index("sold")]) for r in occupancy))
        if (have == want and len(occupancy) == len(ids)) or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    matched = have == want
    revenue = sum(_number(r[sales[0].columns.index("revenue_eur")]) for r in occupancy)
    console.rule("[bold]sales monitor (ClickHouse, `cultuurbus report sales`)")
    verdict = ("[green]matches the ground truth[/]" if matched else
               f"[red]the ground truth says {want}[/] (sink not caught up within "
               f"{options.report_wait_s:.0f}s?)" if want is not None else "no ground truth yet")
    console.print(f"{have} tickets sold in ClickHouse for the season's {len(occupancy)} performances, "
                  f"revenue EUR {revenue:,.2f}: {verdict}")
    more = "cultuurbus report sales"
    console.print(_rich(sales[0], occupancy, options.report_rows, more))
    by_type: dict[str, list[float]] = {}
    types = sales[1]
    for row in types.rows:
        if ours(row):
            sums = by_type.setdefault(str(row[types.columns.index("ticket_type")]), [0.0, 0.0])
            sums[0] += _number(row[types.columns.index("tickets")])
            sums[1] += _number(row[types.columns.index("revenue_eur")])
    per_type = ReportTable("revenue per ticket type (the season)", ["ticket_type", "tickets", "revenue_eur"],
                           [(k, int(v[0]), round(v[1], 2)) for k, v in sorted(by_type.items())])
    console.print(_rich(per_type, per_type.rows, options.report_rows, more))
    curve = sales[2]
    console.print(_rich(curve, [r for r in curve.rows if ours(r)], options.report_rows, more))
    console.rule("[bold]audience monitor (ClickHouse, `cultuurbus report audience`)")
    for table in audience_report(client, top=options.report_rows):
        console.print(_rich(table, table.rows, options.report_rows, "cultuurbus report audience"))
    return matched


#: The share of --minutes the season's delivery may take; the rest lets the bus settle.
DELIVERY_SHARE = 0.7
#: Facts per second when the demo has no end (--forever) and no --pace was given.
FOREVER_PACE = 40.0


def _season_size(options: DemoOptions) -> list[str]:
    if options.short:
        return ["--performances", "24", "--venues", "6", "--productions", "8"]
    n = max(3, options.performances)
    return ["--performances", str(n), "--venues", "8", "--productions", str(min(12, n))]


def _season(options: DemoOptions) -> Season:
    """The simulator's own season for these options, built here."""
    size = _season_size(options)
    return build_season(options.seed, venues=int(size[3]), productions=int(size[5]),
                        performances=int(size[1]), now=datetime.now(UTC).replace(microsecond=0))


def season_facts(options: DemoOptions) -> int:
    """How many facts the demo's season delivers."""
    return sum(compute_truth(_season(options))["facts"].values())


def pace_of(options: DemoOptions) -> float | None:
    """Facts per second: ``--pace``, else what delivers the season within
    :data:`DELIVERY_SHARE` of ``--minutes`` (so the demo can compare it with the ground
    truth before it ends); ``None`` (full speed) with ``--short``."""
    if options.pace is not None:
        return options.pace
    if options.short:
        return None
    if options.forever:
        return FOREVER_PACE
    return max(10.0, round(season_facts(options) / (DELIVERY_SHARE * options.minutes * 60), 1))


def simulator_args(options: DemoOptions, pace: float | None = None) -> list[str]:
    """The ``cultuurbus simulate`` options of the demo's season (``--short``: 24
    performances at full speed; else ``--performances`` at ``pace``)."""
    speed = ["--fast"] if pace is None else ["--pace", f"{pace:g}"]
    return ["--seed", str(options.seed), *_season_size(options), *speed]


def run_demo(settings: Settings, options: DemoOptions) -> int:
    """Run the demo; returns the process exit code: 0 when the bus's availability and
    ClickHouse's sales matched the simulator's ground truth."""
    console = Console()
    if not console.is_terminal:  # a log or CI: room for the tables instead of 80 columns
        console = Console(width=120)
    # The registry client's HTTP library logs every request at INFO (bus.log quiets httpx).
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    stack = StackSettings()
    manager = StackManager(stack, bus=settings)
    already = all(s.healthy for s in manager.status(CORE_SERVICES))
    console.rule("[bold]1/4 local stack")
    manager.up()
    monitoring = _Monitoring(manager, console)
    if options.prometheus:
        monitoring.start()
    settings = settings_for_stack(settings, stack)
    pipeline = Pipeline(settings, stack, Path(stack.dir) / "demo")
    sim: Role | None = None
    reader: BoardReader | None = None
    truth_path = pipeline.state / "ground_truth.json"
    try:
        console.rule("[bold]2/4 topics and schemas")
        created = pipeline.prepare()
        console.print(f"{created} topics created; schemas registered")
        app = None
        if stack.sasl:  # two vendors and an app, each as its own tenant (ops/demo_tenants.py)
            tenants = demo_tenants(_season(options))
            app = start_tenants(pipeline, tenants)
            for t in tenants:
                what = (f"vendor, receives {', '.join(t.vendors)} webhooks, registered for "
                        f"{len(t.venues)} venues and {len(t.productions)} productions"
                        if t.kind == "vendor" else "app, reads the live table below")
                console.print(f"tenant {t.name:13} {what}")
        console.rule("[bold]3/4 roles")
        pipeline.start()
        monitoring.scrape(pipeline.targets())
        gw = pipeline.gateway_url
        s = settings
        console.print(f"streams worker   metrics http://127.0.0.1:{s.streams.web_port}/metrics")
        console.print(f"ClickHouse sink  metrics http://127.0.0.1:{s.sink.metrics_port}/metrics")
        wh = pipeline.webhook_url
        console.print(f"webhook receiver {wh}/docs   metrics {wh}/metrics")
        console.print(f"gateway          {gw}/v1/lastminute   board {gw}/board   API {gw}/docs")
        if monitoring.url is not None:
            console.print(f"Prometheus       {monitoring.url}/api/v1/targets   (`cultuurbus stack targets`; "
                          "dashboards: ops/grafana/)")
        console.print("reports          cultuurbus report sales | audience | benchmark")
        console.print(f"logs             {pipeline.logs}/")
        pipeline.wait_ready()
        pace = pace_of(options)
        sim = pipeline.simulator(simulator_args(options, pace), truth_path)
        truth_path.unlink(missing_ok=True)
        sim.start(pipeline.env())
        console.rule(f"[bold]4/4 the season sells at {'full speed' if pace is None else f'{pace:g} facts/s'}"
                     " (Ctrl-C ends the demo)")
        reader = BoardReader(app or settings)
        t0 = time.monotonic()
        deadline = t0 + options.minutes * 60
        truth: dict[str, Any] = {}
        try:
            with Live(reader.board.table(0, True), console=console, refresh_per_second=2,
                      transient=False) as live:
                while True:
                    reader.poll()
                    live.update(reader.board.table(time.monotonic() - t0, sim.alive()))
                    pipeline.check()
                    if not sim.alive() and not truth:
                        if sim.proc is not None and sim.proc.returncode != 0:
                            raise BusError(f"simulator failed; see {sim.log}")
                        truth = json.loads(truth_path.read_text())
                    settled = truth and _compare(truth, reader.board)[0] == len(truth["performances"])
                    if options.short and settled:
                        break
                    if not options.forever and time.monotonic() > deadline:
                        break
        except KeyboardInterrupt:
            console.print("interrupted")
        if not truth and truth_path.exists():
            truth = json.loads(truth_path.read_text())
        console.rule("[bold]summary")
        console.print(f"{reader.board.changes} availability changes read; "
                      f"{len(reader.board.availability)} performances; {len(reader.board.offers)} offers")
        if not truth:
            console.print("[yellow]the season was still being delivered when the demo ended, so there "
                          "is no ground truth to compare with yet (give more --minutes or a higher "
                          "--pace)[/]")
            _print_reports(settings, truth, console, options)
            return 0
        ok, bad = _compare(truth, reader.board)
        total = len(truth["performances"])
        console.print(f"{ok}/{total} performances match the simulator's ground truth ({truth_path})")
        for line in bad[:10]:
            console.print(f"  [red]{line}[/]")
        reports_ok = _print_reports(settings, truth, console, options)
        return 0 if ok == total and reports_ok else 1
    finally:
        if reader is not None:
            reader.close()
        if sim is not None:
            sim.stop()
        pipeline.stop()
        monitoring.finish()
        if not options.keep_stack and not already:
            manager.down()
        else:
            console.print("stack left running: `cultuurbus stack status`, `cultuurbus stack down`")
