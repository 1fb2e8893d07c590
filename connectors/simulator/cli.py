"""``cultuurbus simulate``: play a seeded season through the real connectors into Kafka
and write the ground truth the streams, sinks and benchmarks compare against."""

from __future__ import annotations

import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import click
from tqdm import tqdm

from bus.settings import Settings, load_settings
from connectors.simulator.model import CALENDAR_KINDS, IDENTIFIER_MODES, TICKETING_KINDS
from connectors.simulator.realism import DEFAULT_UNLINKED_SHARE
from connectors.simulator.run import SimulationReport
from connectors.simulator.run import simulate as play
from connectors.simulator.season import build_season
from connectors.simulator.truth import write_truth
from schemas.models import utcnow

__all__ = ["simulate"]

_KINDS = CALENDAR_KINDS + TICKETING_KINDS


def _summary(report: SimulationReport, truth_path: Path, truth_facts: dict[str, int]) -> str:
    lines = [f"{'source kind':<16}{'connector':<13}{'deliveries':>11}{'facts':>9}{'seconds':>9}"
             f"{'facts/s':>10}"]
    for s in report.stats:
        lines.append(f"{s.kind:<16}{s.connector:<13}{s.units:>11}{s.facts:>9}{s.seconds:>9.2f}"
                     f"{s.rate:>10.0f}")
    lines.append("")
    lines.append("records/s per connector kind (while it delivered): " + ", ".join(
        f"{k} {rate:.0f}/s ({facts} facts)" for k, (facts, rate) in report.by_connector().items()))
    lines.append(f"{report.facts} facts acknowledged of {report.expected} in {report.seconds:.1f}s "
                 f"({report.facts / report.seconds if report.seconds else 0:.0f}/s overall)")
    lines.append("truth: " + ", ".join(f"{t} {n}" for t, n in truth_facts.items())
                 + f" -> {truth_path}")
    return "\n".join(lines)


@click.command("simulate")
@click.option("--seed", type=int, default=42, show_default=True,
              help="Seed of the season: the same seed (and --now) plays the same season.")
@click.option("--venues", type=click.IntRange(2, 36), default=8, show_default=True,
              help="Venues: 60% in NL (DIP), the rest in Flanders (UiTdatabank).")
@click.option("--productions", type=click.IntRange(1), default=12, show_default=True,
              help="Productions, each touring 2-5 venues.")
@click.option("--performances", type=click.IntRange(3), default=60, show_default=True,
              help="Performances, spread over now-21d..now+21d (>= productions).")
@click.option("--identifiers", type=click.Choice(IDENTIFIER_MODES), default="real",
              show_default=True,
              help="real: only what real sources carry (vendor custom fields, shop links; the "
                   "rest must be matched by venue, start and title); linked: the simulator's own "
                   "conventions, every source carries the canonical id (no real system does).")
@click.option("--unlinked-share", type=click.FloatRange(0, 1), default=DEFAULT_UNLINKED_SHARE,
              show_default="1/3", help="With --identifiers real: the share of vendor events "
                                       "that carry no sector id.")
@click.option("--truth", "truth_path", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("ground_truth.json"), show_default=True,
              help="Where to write the ground truth (JSON) once every fact is acknowledged.")
@click.option("--now", "now_text", default=None, metavar="ISO",
              help="The season's present (UTC if no offset). Default: the current time.")
@click.option("--pace", type=click.FloatRange(min=0.1), default=None, metavar="FACTS_PER_S",
              help="Deliver at most this many facts per second over all sources.")
@click.option("--fast", is_flag=True, default=False,
              help="Deliver as fast as the connectors acknowledge (the default without --pace).")
@click.option("--calendar-last", is_flag=True, default=False,
              help="Send ticketing first and calendars after (tickets for performances the bus "
                   "does not know yet must be parked, then joined).")
@click.option("--webhook-url", "webhook_urls", multiple=True, metavar="[VENDOR=]URL",
              help="POST Eventix/Eventbrite/Stager webhooks to this running receiver instead of an "
                   "in-process one; VENDOR=URL sends one vendor's deliveries to its own receiver "
                   "(repeat; e.g. each vendor running its connector as a tenant). It must accept "
                   "the credentials --webhook-auth names and "
                   "fetch from the simulator's fake Eventbrite API: "
                   "CULTUURBUS_WEBHOOK__EVENTBRITE_API_HOSTS='[\"127.0.0.1\"]' and "
                   "CULTUURBUS_WEBHOOK__EVENTBRITE_TOKENS='{\"*\": \"PRIVATE-TOKEN-0001\"}'.")
@click.option("--webhook-secret", default="cultuurbus-simulator-secret", show_default=True,
              envvar="CULTUURBUS_SIMULATE_WEBHOOK_SECRET",
              help="Secret the webhook credentials derive from (vendor) or are signed with (hmac).")
@click.option("--webhook-auth", type=click.Choice(["vendor", "hmac"]), default="vendor", show_default=True,
              envvar="CULTUURBUS_SIMULATE_WEBHOOK_AUTH",
              help="With --webhook-url: deliver as each vendor does (Eventix's OpenTicket nonce, URL "
                   "tokens for Eventbrite and Stager: connectors.simulator.drivers.webhook_host."
                   "vendor_credentials) or signed with X-Signature as a relay would.")
@click.option("--only", "kinds", multiple=True, type=click.Choice(_KINDS),
              help="Deliver only these source kinds (repeatable); the truth still covers the "
                   "whole season.")
@click.option("--workers", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Concurrent deliveries per push source (one performance stays in order).")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=1), default=600.0,
              show_default=True, help="Bound on each wait for a connector to catch up.")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar of facts acknowledged (tqdm, on stderr). "
                   "[default: when stderr is a terminal]")
@click.pass_context
def simulate(ctx: click.Context, seed: int, venues: int, productions: int,
                     performances: int, identifiers: str, unlinked_share: float, truth_path: Path,
                     now_text: str | None, pace: float | None,
                     fast: bool, calendar_last: bool, webhook_urls: tuple[str, ...], webhook_secret: str,
                     webhook_auth: str, kinds: tuple[str, ...], workers: int, timeout_s: float,
                     progress: bool | None) -> None:
    """Play a realistic season through the real connector paths into Kafka.

    Builds a seeded season (venues in NL and Flanders, touring productions, performances
    around now with sales curves, refunds, holds, house seats, a sold-out show, a
    cancelled and a postponed one, door scans, buyers with fake personal data) and
    delivers it as each vendor would: signed Eventix/Eventbrite/Stager webhooks to the
    webhook receiver, a Ticketmatic eventstream polled by the eventstream connector,
    DIP cumulative PUTs to the DIP receiver, a box-office CSV file imported by the file
    connector, and UiTdatabank, DIP calendar, schema.org and iCal documents polled by
    the calendar connectors. Fake vendor servers run in process on 127.0.0.1; the
    connectors publish to the Kafka and topic prefix of the settings.

    Returns once every fact was acknowledged, then writes the ground truth (per
    canonical performance: capacity, status, sold, refunded, reserved, blocked,
    remaining, availability, scanned, no-shows, tickets and revenue per type, and
    the facts each topic must hold) and prints facts and records/s per source kind.

    \b
    Examples:
      cultuurbus simulate --seed 42 --truth ground_truth.json
      cultuurbus simulate --seed 7 --venues 6 --performances 20 --pace 200 --calendar-last
    """  # noqa: D301 - click's \b (no rewrap) needs a real backspace
    if pace is not None and fast:
        raise click.UsageError("give --pace or --fast, not both")
    if performances < productions:
        raise click.UsageError("--performances must be at least --productions (every production "
                               "plays at least once)")
    root = ctx.find_root().obj
    settings: Settings = root if isinstance(root, Settings) else load_settings()
    if now_text:
        now = datetime.fromisoformat(now_text)
        now = now if now.tzinfo else now.replace(tzinfo=UTC)
    else:
        now = utcnow()
    season = build_season(seed, venues=venues, productions=productions,
                          performances=performances, now=now.replace(microsecond=0),
                          identifiers=identifiers, unlinked_share=unlinked_share)
    bar: tqdm | None = None  # type: ignore[type-arg]
    lock = threading.Lock()

    def on_total(total: int) -> None:
        nonlocal bar
        show = sys.stderr.isatty() if progress is None else progress
        bar = tqdm(total=total, unit="fact", desc="facts acknowledged", disable=not show,
                   file=sys.stderr, dynamic_ncols=True, mininterval=0.5)

    def advance(n: int) -> None:
        if bar is not None and n:
            with lock:
                bar.update(n)

    t0 = time.monotonic()
    try:
        report = play(settings, season, pace=pace, calendar_last=calendar_last,
                          webhook_url=",".join(webhook_urls) or None, webhook_secret=webhook_secret,
                          webhook_auth=webhook_auth, workers=workers,
                          timeout_s=timeout_s, kinds=kinds or None, progress=advance,
                          on_total=on_total)
    finally:
        if bar is not None:
            bar.close()
    truth = write_truth(season, truth_path)
    click.echo(_summary(report, truth_path, truth["facts"]))
    click.echo(f"season seed {seed}, now {season.now.isoformat()}, topic prefix "
               f"{settings.topic_prefix!r}, {time.monotonic() - t0:.1f}s in all")
    if report.errors:
        raise click.ClickException("not every fact was delivered: " + "; ".join(report.errors))

