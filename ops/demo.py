"""``cultuurbus demo``: the whole bus on this machine, watching a season sell.

Brings the local stack up (Kafka, schema registry, ClickHouse, Prometheus when it can
be built), applies topics and schemas, starts the roles as their own processes (a
streams worker, the ClickHouse sink, the gateway), plays the simulator's season
through the real connectors at a watchable pace, and shows a live table of
performances read from the availability topic. It ends by itself (or runs on with
``--forever``), stops what it started and prints a summary that compares the bus's
final availability with the simulator's ground truth.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from confluent_kafka import OFFSET_BEGINNING, TopicPartition
from rich.console import Console
from rich.live import Live
from rich.table import Table

from bus.kafka import make_admin, make_consumer
from bus.serde import AvroDeserializer, Registry, subject_for
from bus.settings import Settings
from bus.topics import AVAILABILITY, CATALOG, LASTMINUTE, apply_catalog
from ops.stack.manager import StackManager
from ops.stack.settings import StackSettings
from schemas import load_schema

__all__ = ["DemoOptions", "run_demo", "settings_for_stack"]

REPO = Path(__file__).resolve().parents[1]


def settings_for_stack(settings: Settings, stack: StackSettings) -> Settings:
    """The bus settings pointed at the local stack's addresses."""
    return settings.model_copy(update={
        "kafka": settings.kafka.model_copy(update={"bootstrap_servers": stack.kafka_bootstrap}),
        "registry": settings.registry.model_copy(update={"url": stack.registry_url}),
        "clickhouse": settings.clickhouse.model_copy(update={"url": stack.clickhouse_url}),
    })


@dataclass(frozen=True)
class DemoOptions:
    minutes: float = 3.0
    forever: bool = False
    short: bool = False
    seed: int = 42
    performances: int = 60
    pace: float = 40.0
    keep_stack: bool = False
    prometheus: bool = True


@dataclass
class Role:
    name: str
    argv: list[str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self, env: dict[str, str]) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = self.log.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "ops.cli", *self.argv], env=env, cwd=REPO,
                                     stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@dataclass
class Board:
    """The availability and offers the demo has read, for the live table."""

    availability: dict[str, dict[str, Any]] = field(default_factory=dict)
    offers: set[str] = field(default_factory=set)
    changes: int = 0

    def table(self, elapsed: float, sim_running: bool, limit: int = 18) -> Table:
        state = "selling" if sim_running else "season delivered"
        t = Table(title=f"cultuurbus — live availability ({state}, {elapsed:0.0f}s, "
                        f"{self.changes} changes, {len(self.offers)} last-minute offers)",
                  title_justify="left")
        for col, kw in (("start", {}), ("performance", {"max_width": 34}), ("venue", {"max_width": 24}),
                        ("cap", {"justify": "right"}), ("sold", {"justify": "right"}),
                        ("left", {"justify": "right"}), ("status", {})):
            t.add_column(col, **kw)
        now = datetime.now(UTC)
        rows = sorted(self.availability.values(),
                      key=lambda a: (a["start"] is None or a["start"] < now, a["start"] or now))
        colour = {"SOLD_OUT": "red", "LIMITED": "yellow", "AVAILABLE": "green", "CANCELLED": "magenta",
                  "POSTPONED": "cyan"}
        for a in rows[:limit]:
            start = a["start"].astimezone().strftime("%a %d %b %H:%M") if a["start"] else "?"
            lm = " *" if a["performance_id"] in self.offers else ""
            t.add_row(start, (a["title"] or a["performance_id"]) + lm, a["venue_name"] or "",
                      str(a["capacity"] if a["capacity"] is not None else "?"), str(a["sold"]),
                      str(a["remaining"] if a["remaining"] is not None else "?"),
                      f"[{colour.get(a['status'], 'white')}]{a['status']}[/]")
        t.caption = "* = last-minute offer (starts within 48 h, seats left)"
        return t


class _Reader:
    """Follows the availability and last-minute topics from the beginning."""

    def __init__(self, settings: Settings) -> None:
        self.board = Board()
        reg = Registry(settings.registry)
        self._av = AvroDeserializer(reg, load_schema("availability.avsc"))
        self._names = {settings.topic_prefix + AVAILABILITY: "av", settings.topic_prefix + LASTMINUTE: "lm"}
        self._c = make_consumer(settings.kafka, f"demo-{uuid.uuid4().hex[:8]}",
                                isolation_level="read_uncommitted")
        parts = []
        for name in self._names:
            meta = self._c.list_topics(name, timeout=10).topics[name]
            parts += [TopicPartition(name, p, OFFSET_BEGINNING) for p in meta.partitions]
        self._c.assign(parts)

    def poll(self, budget_s: float = 0.3) -> None:
        end = time.monotonic() + budget_s
        while time.monotonic() < end:
            msg = self._c.poll(0.05)
            if msg is None or msg.error():
                continue
            key = (msg.key() or b"").decode()
            if self._names[msg.topic()] == "lm":
                (self.board.offers.add if msg.value() is not None else self.board.offers.discard)(key)
                continue
            if msg.value() is None:
                continue
            rec = self._av(msg.value())
            if rec is not None:
                self.board.availability[key] = rec
                self.board.changes += 1

    def close(self) -> None:
        self._c.close()


def _env(settings: Settings, stack: StackSettings, state: Path) -> dict[str, str]:
    env = dict(os.environ)  # other CULTUURBUS_* settings (ports, secrets) pass through
    env.update({
        "CULTUURBUS_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "CULTUURBUS_REGISTRY__URL": settings.registry.url,
        "CULTUURBUS_CLICKHOUSE__URL": settings.clickhouse.url,
        "CULTUURBUS_TOPIC_PREFIX": settings.topic_prefix,
        # Worker state belongs to one set of topics: keep it apart per topic prefix.
        "CULTUURBUS_STREAMS__DATA_DIR": str(
            state / "streams" / (settings.topic_prefix.strip(".") or "default")),
        "CULTUURBUS_STREAMS__LASTMINUTE_TICK_S": "2",
        "CULTUURBUS_LOG_FORMAT": "json",
        "CULTUURBUS_STACK_DIR": str(stack.dir),
        "CULTUURBUS_SINK__METRICS_PORT": str(settings.sink.metrics_port),
        "CULTUURBUS_GATEWAY__PORT": str(settings.gateway.port),
        "CULTUURBUS_STREAMS__WEB_PORT": str(settings.streams.web_port),
        "PYTHONPATH": str(REPO),
    })
    return env


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


def run_demo(settings: Settings, options: DemoOptions) -> int:
    """Run the demo; returns the process exit code (0 when the bus matched the truth)."""
    console = Console()
    stack = StackSettings()
    manager = StackManager(stack)
    already = all(s.healthy for s in manager.status())
    console.rule("[bold]1/4 local stack")
    manager.up()
    prom = None
    if options.prometheus:
        prom = _start_prometheus(stack, settings, console)
    settings = settings_for_stack(settings, stack)
    state = Path(stack.dir) / "demo"
    roles: list[Role] = []
    sim: Role | None = None
    reader: _Reader | None = None
    truth_path = state / "ground_truth.json"
    try:
        console.rule("[bold]2/4 topics and schemas")
        changes = apply_catalog(make_admin(settings.kafka), settings.topic_prefix,
                                settings.kafka.replication_factor)
        console.print(f"{sum(c.action == 'created' for c in changes)} topics created, "
                      f"{len(CATALOG)} in the catalog")
        reg = Registry(settings.registry)
        for t in CATALOG:
            if t.value_schema:
                reg.register(subject_for(settings.topic_prefix + t.name), load_schema(t.value_schema))
        console.rule("[bold]3/4 roles")
        env = _env(settings, stack, state)
        logs = state / "logs"
        roles = [Role("streams", ["streams", "worker", "--name", "demo"], logs / "streams.log"),
                 Role("sink", ["sink", "clickhouse"], logs / "sink.log"),
                 Role("gateway", ["gateway"], logs / "gateway.log")]
        for r in roles:
            r.start(env)
        gw = f"http://{settings.gateway.host}:{settings.gateway.port}"
        console.print(f"streams worker   metrics http://127.0.0.1:{settings.streams.web_port}/metrics")
        console.print(f"ClickHouse sink  metrics http://127.0.0.1:{settings.sink.metrics_port}/metrics")
        console.print(f"gateway          {gw}/v1/lastminute   board {gw}/board   API {gw}/docs")
        if prom is not None:
            console.print(f"Prometheus       http://127.0.0.1:{prom.port}   (dashboards: ops/grafana/)")
        console.print("reports          cultuurbus report sales | audience | benchmark")
        console.print(f"logs             {logs}/")
        size = ["--performances", "24", "--venues", "6", "--productions", "8"] if options.short else \
            ["--performances", str(options.performances)]
        pace = ["--fast"] if options.short else ["--pace", str(options.pace)]
        sim = Role("simulator", ["simulate", "--seed", str(options.seed), *size, *pace,
                                 "--truth", str(truth_path), "--no-progress"], logs / "simulator.log")
        time.sleep(3)
        sim.start(env)
        console.rule("[bold]4/4 the season sells (Ctrl-C ends the demo)")
        reader = _Reader(settings)
        t0 = time.monotonic()
        deadline = t0 + options.minutes * 60
        truth: dict[str, Any] = {}
        try:
            with Live(reader.board.table(0, True), console=console, refresh_per_second=2,
                      transient=False) as live:
                while True:
                    reader.poll()
                    live.update(reader.board.table(time.monotonic() - t0, sim.alive()))
                    for r in roles:
                        if not r.alive():
                            raise click.ClickException(f"{r.name} stopped; see {r.log}")
                    if not sim.alive() and not truth:
                        if sim.proc is not None and sim.proc.returncode != 0:
                            raise click.ClickException(f"simulator failed; see {sim.log}")
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
        ok, bad = _compare(truth, reader.board) if truth else (0, ["no ground truth (simulator not done)"])
        console.rule("[bold]summary")
        total = len(truth.get("performances", {}))
        console.print(f"{reader.board.changes} availability changes read; "
                      f"{len(reader.board.availability)} performances; {len(reader.board.offers)} offers")
        console.print(f"{ok}/{total} performances match the simulator's ground truth ({truth_path})")
        for line in bad[:10]:
            console.print(f"  [red]{line}[/]")
        return 0 if total and ok == total else 1
    finally:
        if reader is not None:
            reader.close()
        for r in [*([sim] if sim else []), *reversed(roles)]:
            r.stop()
        if prom is not None:
            prom.stop()
        if not options.keep_stack and not already:
            manager.down()
        else:
            console.print("stack left running: `cultuurbus stack status`, `cultuurbus stack down`")


def _start_prometheus(stack: StackSettings, settings: Settings, console: Console) -> Any:
    """A Prometheus scraping the demo's roles, or None (with a note) when it cannot run."""
    try:
        from ops.prometheus.server import demo_prometheus
    except ImportError:
        return None
    try:
        return demo_prometheus(stack, settings)
    except Exception as exc:  # noqa: BLE001 - the demo goes on without Prometheus
        console.print(f"[yellow]Prometheus not started: {exc}[/]")
        return None
