"""The streams app: one Faust app, run by ``cultuurbus streams worker``.

Domain modules are listed here explicitly. Identity re-keys facts (two agents); one facts
agent reads the re-keyed facts and applies each, decoded once, to the fact domains
(availability, attendance, sales; last-minute follows availability in process). Every
agent takes its topic in batches. Several workers share the partitions of the
co-partitioned topics (every keyed topic has the same partition count, checked at start).

Guarantee: effectively-once results. Faust runs at-least-once; every state value applies
a fact at most once, by the fact's first delivery and the offset each value has reached
(see ``streams.store``), so redelivery, replay from the start and crashes (kill -9)
never double count. Order of arrival does not matter (see each domain's ``state``
module). Records are published after each batch (an agent waits at most
``BATCH_WITHIN_S`` to fill one), once per key per batch, with the state after the batch.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from bus.errors import ConfigError
from bus.kafka import make_admin
from bus.serde import Registry
from bus.settings import Settings
from bus.topics import CATALOG, PARTITIONS
from streams import tuning
from streams.attendance import agents as attendance_agents
from streams.availability import agents as availability_agents
from streams.codec import FactCodec
from streams.context import StreamsContext
from streams.facts import agents as facts_agents
from streams.identity import agents as identity_agents
from streams.identity.crosswalk import Crosswalk
from streams.lastminute import agents as lastminute_agents
from streams.metrics import StreamsMetrics
from streams.sales import agents as sales_agents

__all__ = ["DOMAINS", "create_app", "check_copartitioning"]

#: In this order: the fact domains register with the context before the facts agent that feeds them.
DOMAINS = (identity_agents, availability_agents, attendance_agents, sales_agents, lastminute_agents,
           facts_agents)

#: Largest record batch the outbox builds for one topic partition (``streams.outbox``).
PRODUCER_BATCH_BYTES = 1024 * 1024


def check_copartitioning(settings: Settings) -> None:
    """Every keyed topic the app reads or writes must have the catalog's partition count."""
    admin = make_admin(settings.kafka)
    meta = admin.list_topics(timeout=15)
    wrong = []
    for t in CATALOG:
        if t.partitions != PARTITIONS:
            continue
        name = settings.topic_prefix + t.name
        if name not in meta.topics:
            raise ConfigError(f"topic {name} is missing: run `cultuurbus topics apply` first")
        have = len(meta.topics[name].partitions)
        if have != PARTITIONS:
            wrong.append(f"{name} has {have}")
    if wrong:
        raise ConfigError(f"re-keyed topics must be co-partitioned ({PARTITIONS} partitions): "
                          + ", ".join(wrong))


def create_app(settings: Settings, *, worker: str = "w1", web_port: int | None = None,
               registry: CollectorRegistry | None = None) -> StreamsContext:
    s = settings.streams
    datadir = Path(s.data_dir) / worker
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        s.app_id + (f"-{settings.topic_prefix.strip('.')}" if settings.topic_prefix else ""),
        broker=f"kafka://{settings.kafka.bootstrap_servers}",
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
        stream_wait_empty=False,
        Monitor=tuning.QuietMonitor,
    )
    tuning.tune(app)

    reg = registry or CollectorRegistry()
    ctx = StreamsContext(app=app, settings=settings,
                         codec=FactCodec(Registry(settings.registry), settings.topic_prefix),
                         metrics=StreamsMetrics(reg), registry=reg, crosswalk=Crosswalk())
    for domain in DOMAINS:
        domain.register(ctx)
    _web(ctx)
    return ctx


def _web(ctx: StreamsContext) -> None:
    app = ctx.app
    m = ctx.metrics

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        # aiohttp refuses a charset inside content_type; Prometheus reads text/plain fine.
        return web.bytes(generate_latest(ctx.registry), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        ready = not app.rebalancing and len(app.consumer.assignment()) > 0
        return web.json({"live": True, "ready": ready, "rebalancing": app.rebalancing},
                        status=200 if ready else 503)

    @app.page("/healthz/live")
    async def live(web: Any, request: Any) -> Any:
        return web.json({"live": True})

    rebalancing_since: list[float] = []

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def on_revoked(app_: Any, revoked: Any, **kwargs: Any) -> None:
        m.rebalances.inc()
        rebalancing_since[:] = [time.monotonic()]

    @app.on_rebalance_complete.connect  # type: ignore[arg-type]
    async def on_rebalanced(app_: Any, **kwargs: Any) -> None:
        if rebalancing_since:
            m.recovery_seconds.set(time.monotonic() - rebalancing_since.pop())
