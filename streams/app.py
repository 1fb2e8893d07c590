"""The streams app: one Faust app, run by ``cultuurbus streams worker``.

The graph is built here, in :func:`create_app`, by constructors that take their
collaborators: identity re-keys facts (two agents) and matches calendar descriptions
no identifier links (identity-match, one local day at a time) and decides which venue ids are one
venue (identity-venues, one partition); one facts agent reads the re-keyed
facts and applies each, decoded once, to the fact domains it is given (availability,
attendance, sales: those ``streams.domains`` names, all by default); last-minute listens
to availability in process; timers drive
attendance's no-shows, last-minute's offers and identity's releases. Every agent takes
its topic in batches. Several workers share the partitions of the co-partitioned topics
(every keyed topic has the same partition count, checked at start). Every worker also
reads the whole identity topic into its crosswalk (``streams.identity.reader``), and the
tenant directory with it. The identity agents also read every vendor tenant's ingest
topics, those created while it runs too (``streams.ingest``); a tenant's fact is counted
only for the venues and productions the tenant is registered for (``streams.tenancy``,
``streams.facts.ownership``).

Guarantee: effectively-once results. Faust runs at-least-once; every state value applies
a fact at most once, by the fact's first delivery and the offset each value has reached
(see ``streams.store``), so redelivery, replay from the start and crashes (kill -9)
never double count. Order of arrival does not matter (see each domain's ``state``
module). Records are published after each batch (an agent takes what its
queue holds: ``BATCH_WITHIN_S``), once per key per batch, with the state after the batch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from bus.errors import ConfigError
from bus.kafka import make_admin, sasl_login
from bus.log import get_logger
from bus.metrics import Health
from bus.serde import Registry
from bus.settings import Settings
from bus.tenants import TenantDirectory
from bus.topics import (
    CATALOG,
    IDENTITY,
    PARTITIONS,
    PERFORMANCES,
    RELEASE,
    REVIEW,
    SNAPSHOTS,
    TICKET_EVENTS,
    topic_name,
)
from streams import faust_hooks, tuning
from streams.attendance.domain import AttendanceDomain
from streams.availability.domain import AvailabilityDomain
from streams.codec import FactCodec
from streams.context import StreamsContext, in_partition_of, now_ms
from streams.facts import agents as facts_agents
from streams.facts.fact import FactDomain
from streams.identity import agents as identity_agents
from streams.identity import match_agents
from streams.identity.crosswalk import Crosswalk
from streams.identity.domain import Identity
from streams.identity.match_domain import MatchDesk
from streams.identity.matching import Matcher
from streams.identity.reader import CrosswalkReader
from streams.identity.reroute import Rerouter
from streams.identity.venue_agents import VenueEvidence, follow_venue_links, venue_desk
from streams.identity.venue_agents import define as define_venues
from streams.identity.venues import VenueCrosswalk
from streams.ingest import SCAN_S, IngestTopics
from streams.lastminute.domain import LastMinute
from streams.metrics import StreamsMetrics
from streams.sales.domain import SalesDomain
from streams.tenancy import Gate, follow_tenants

__all__ = ["CROSSWALK_CATCH_UP_S", "PARTITION_FETCH_BYTES", "PRODUCER_BATCH_BYTES", "STREAM_BUFFER_EVENTS",
           "StreamsApp", "check_copartitioning", "create_app"]

#: Largest record batch the outbox builds for one topic partition (``streams.outbox``).
PRODUCER_BATCH_BYTES = 1024 * 1024
#: Most seconds a rebalance waits for the identity links to be read to their end.
CROSSWALK_CATCH_UP_S = 30.0
#: Events Faust buffers per agent stream before it pauses the partitions feeding it.
STREAM_BUFFER_EVENTS = 1024
#: Most bytes one fetch brings of one partition (aiokafka's ``max_partition_fetch_bytes``).
PARTITION_FETCH_BYTES = 256 * 1024
log = get_logger("streams")


def check_copartitioning(settings: Settings) -> None:
    """Every keyed topic the app reads or writes must have the catalog's partition count."""
    admin = make_admin(settings.kafka)
    meta = admin.list_topics(timeout=15)
    wrong = []
    for t in CATALOG:
        if t.partitions != PARTITIONS:
            continue
        name = topic_name(t.name, settings.topic_prefix)
        if name not in meta.topics:
            raise ConfigError(f"topic {name} is missing: run `cultuurbus topics apply` first")
        have = len(meta.topics[name].partitions)
        if have != PARTITIONS:
            wrong.append(f"{name} has {have}")
    if wrong:
        raise ConfigError(f"re-keyed topics must be co-partitioned ({PARTITIONS} partitions): "
                          + ", ".join(wrong))


@dataclass(frozen=True)
class StreamsApp:
    """A built worker: the Faust app, what its domains share, the crosswalk reader (and the
    tenant directory it fills) to start before Faust (``streams.worker``), the ingest topics
    to look for before Faust subscribes, and what ``/healthz`` reports."""

    app: faust.App
    ctx: StreamsContext
    crosswalk_reader: CrosswalkReader
    health: Health
    tenants: TenantDirectory
    ingest: IngestTopics


def create_app(settings: Settings, *, worker: str = "w1", web_port: int | None = None,
               registry: CollectorRegistry | None = None) -> StreamsApp:
    """Build the Faust app and every domain, agent and timer of the worker (nothing starts).

    Args:
        settings: the bus settings.
        worker: the worker's name; its state lives under ``<data_dir>/<worker>``.
        web_port: port of ``/metrics`` and ``/healthz`` (default: ``streams.web_port``).
        registry: where the metrics register (default: a fresh one).

    """
    s = settings.streams
    datadir = Path(s.data_dir) / worker
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        s.app_id + (f"-{settings.topic_prefix.strip('.')}" if settings.topic_prefix else ""),
        broker=f"kafka://{settings.kafka.bootstrap_servers}",
        # SASL/SCRAM as this worker's principal (aiokafka supports SCRAM-SHA-256/512).
        broker_credentials=(faust.SASLCredentials(username=login.username, password=login.password,
                                                  mechanism=login.mechanism)
                            if (login := sasl_login(settings.kafka)) else None),
        store="rocksdb://",
        datadir=str(datadir),
        topic_partitions=PARTITIONS,
        topic_replication_factor=settings.kafka.replication_factor,
        processing_guarantee="at_least_once",
        broker_commit_interval=s.commit_interval_s,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_max_batch_size=PRODUCER_BATCH_BYTES,
        producer_max_request_size=8 * PRODUCER_BATCH_BYTES,
        web_enabled=True,
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
        web_port=web_port or s.web_port,
        table_standby_replicas=0,
        key_serializer="raw",
        value_serializer="raw",
        # A revocation (and a stop) waits until the batches being applied are done: a batch
        # still running after its partition went to another worker would write that
        # partition's changelogs behind the new owner's back (streams.delivery).
        stream_wait_empty=True,
        # Faust's read-ahead, a quarter of its defaults (4,096 events per stream buffer, 1 MiB
        # per partition fetch): ~17-24 MB less at 100,000 performances, the same events per
        # CPU-second (bench/results/issue14, sessions 22-23).
        stream_buffer_maxsize=STREAM_BUFFER_EVENTS,
        consumer_max_fetch_size=PARTITION_FETCH_BYTES,
        Monitor=tuning.QuietMonitor,
    )
    tuning.tune(app)
    # Every offset commit and revocation flushes Faust's changelog buffer first; Faust's
    # flush gives up while writes are still buffered (faust_hooks.flush_changelog_fully).
    faust_hooks.flush_changelog_fully()

    reg = registry or CollectorRegistry()
    ctx = StreamsContext(app=app, settings=settings,
                         codec=FactCodec(Registry(settings.registry), settings.topic_prefix),
                         metrics=StreamsMetrics(reg), registry=reg)
    # No offset commit past a batch whose records the broker did not take (streams.outbox).
    faust_hooks.guard_commits(app, ctx.outbox.all_delivered, ctx.outbox.track)
    crosswalk = Crosswalk()

    parked = ctx.table("identity-parked", help="Facts parked per source performance key until the calendar "
                       "brings their performance; released in arrival order.")
    routed = ctx.table("identity-routed", help="Facts forwarded under links a person may undo, per source "
                       "performance key, with where each is counted; moved when a link is undone.")
    rerouter = Rerouter(crosswalk, routed, in_partition_of)
    identity = Identity(crosswalk, parked, ctx.metrics,
                        encode_link=lambda link: ctx.codec.encode(IDENTITY, "identity_link.avsc", link),
                        in_partition_of=in_partition_of, rerouter=rerouter,
                        venue_evidence=VenueEvidence().note)
    parked.on_recover(identity.recovered)
    tenants = TenantDirectory()
    gate = Gate(tenants, settings.topic_prefix)
    identity_agents.define(ctx, identity, rerouter, gate)
    route_topic, learn_topic = ctx.topic(TICKET_EVENTS, SNAPSHOTS, RELEASE), ctx.topic(PERFORMANCES)
    ingest = IngestTopics(app, settings, {TICKET_EVENTS: [route_topic], SNAPSHOTS: [route_topic],
                                          PERFORMANCES: [learn_topic]})
    app.timer(interval=SCAN_S, name="ingest-topics")(ingest.tick)
    venues = VenueCrosswalk()
    _matching(ctx, identity, venues)
    define_venues(ctx, venue_desk(ctx, now_ms))

    domains: list[FactDomain] = []
    listeners = []
    if "lastminute" in s.domains:
        lastminute = LastMinute(ctx)
        listeners.append(lastminute.on_availability)
        app.timer(interval=s.lastminute_tick_s, name="lastminute-tick")(lastminute.tick)
    if "availability" in s.domains:
        availability = AvailabilityDomain(ctx, listeners=listeners)
        domains.append(availability)
        if "lastminute" in s.domains:
            lastminute.lookup = availability.record  # the far future is read back when it comes near
    if "attendance" in s.domains:
        attendance = AttendanceDomain(ctx)
        domains.append(attendance)
        app.timer(interval=s.lastminute_tick_s, name="attendance-no-shows")(attendance.tick)
    if "sales" in s.domains:
        domains.append(SalesDomain(ctx))
    facts_agents.define(ctx, domains=domains, gate=gate)

    reader = CrosswalkReader(settings, crosswalk, Registry(settings.registry), metrics_registry=reg)
    follow_venue_links(reader.reader, settings.topic_prefix, Registry(settings.registry), venues)
    follow_tenants(reader.reader, settings.topic_prefix, tenants)

    async def crosswalk_read_to_now() -> None:  # after every rebalance (identity.reader)
        if not await reader.read_to_now(CROSSWALK_CATCH_UP_S):
            log.warning("streams resumed before the identity links were read to their end", extra={
                "waited_s": CROSSWALK_CATCH_UP_S, "reader_error": reader.reader.error})
    parked.on_recover(crosswalk_read_to_now)
    health = Health()
    health.add_check("partitions_assigned",
                     lambda: not app.rebalancing and len(app.consumer.assignment()) > 0)
    health.add_check("crosswalk_read", reader.caught_up.is_set)
    health.add_check("crosswalk_reader_running", lambda: reader.healthy)
    _web(ctx, health)
    return StreamsApp(app=app, ctx=ctx, crosswalk_reader=reader, health=health, tenants=tenants,
                      ingest=ingest)


def _matching(ctx: StreamsContext, identity: Identity, venues: VenueCrosswalk) -> None:
    """Identity matching: the day-keyed match table, its desk and the identity-match agent
    (venue ids the venue crosswalk joins score as one venue)."""
    s = ctx.settings.streams
    table = ctx.table("identity-match", help="Descriptions (d|day|key) and match candidates (c|day|id) of "
                      "calendar facts per local day, decided by identity-match one day at a time.")

    def make_matcher() -> Matcher:
        return Matcher(link_at=s.match_link_at, review_at=s.match_review_at,
                       start_tolerance_s=s.match_start_tolerance_s, same_venue=venues.same)

    make_matcher()  # wrong thresholds stop the worker at start, with what to fix
    desk = MatchDesk(identity, table, ctx.codec.decode,
                     encode_candidate=lambda c: ctx.codec.encode(REVIEW, "identity_candidate.avsc", c),
                     make_matcher=make_matcher, now_ms=now_ms, in_partition_of=in_partition_of)
    table.on_recover(desk.recovered)
    match_agents.define(ctx, desk)


def _web(ctx: StreamsContext, health: Health) -> None:
    app = ctx.app
    m = ctx.metrics

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        # aiohttp refuses a charset inside content_type; Prometheus reads text/plain fine.
        return web.bytes(generate_latest(ctx.registry), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        status, report = health.ready_answer()
        report["rebalancing"] = app.rebalancing
        return web.json(report, status=status)

    @app.page("/healthz/live")
    async def live(web: Any, request: Any) -> Any:
        status, body = health.live_answer()
        return web.json(body, status=status)

    rebalancing_since: list[float] = []

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def on_revoked(app_: Any, revoked: Any, **kwargs: Any) -> None:
        m.rebalances.inc()
        rebalancing_since[:] = [time.monotonic()]

    @app.on_rebalance_complete.connect  # type: ignore[arg-type]
    async def on_rebalanced(app_: Any, **kwargs: Any) -> None:
        if rebalancing_since:
            m.recovery_seconds.set(time.monotonic() - rebalancing_since.pop())
