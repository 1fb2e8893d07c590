"""Every vendor tenant's ingest topics, subscribed by the worker, also those created while it runs.

A vendor tenant writes ``<prefix>ingest.<tenant>.<family>`` (``bus.tenants``), with the
schema, key and partition count of the shared topic of that family. The identity agents
read them beside the shared topics: ``identity-route`` the ticket facts and snapshots,
``identity-learn`` the calendar facts.

Why not ``app.topic(pattern=...)``: in faust-streaming 0.15.3 (pinned) the consumer is
subscribed with topic names only (``AIOKafkaConsumerThread.subscribe``: "XXX pattern does
not work :/") and the conductor maps partitions to agents by ``Topic.topics``, so a
pattern topic silently subscribes to nothing (faust-streaming/faust#62). aiokafka's own
pattern subscription (which would notice a new topic at its next metadata refresh,
``metadata_max_age_ms``, 5 minutes by default) is never reached. So :class:`IngestTopics`
lists the broker's topics every ``SCAN_S`` seconds (one metadata request), adds the ingest
topics it finds to the identity agents' topics and has the conductor subscribe again after
``RESUBSCRIBE_S`` (Faust waits 45 s). Subscribing again is a rebalance of the group, paid
once per new tenant.

An ingest topic is taken only with the catalog's partition count: the identity tables are
co-partitioned with what the agents read (``streams.app.check_copartitioning``); one with
another count is logged, not read, until it is recreated right.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from bus.kafka import make_admin
from bus.log import get_logger
from bus.settings import Settings
from bus.tenants import tenant_of_topic
from bus.topics import PARTITIONS, topic_name
from streams.faust_hooks import resubscribe, set_resubscribe_delay, subscribed_topics

__all__ = ["RESUBSCRIBE_S", "SCAN_S", "IngestTopics"]

log = get_logger("streams")

#: How often the worker looks for new ingest topics.
SCAN_S = 2.0
#: How long the conductor gathers topic changes before it subscribes again.
RESUBSCRIBE_S = 1.0


class IngestTopics:
    """Finds the ingest topics and adds them to the agents' topics.

    Args:
        app: the Faust app.
        settings: bus settings (kafka, topic prefix).
        families: ingest family (unprefixed shared topic name) -> the agent topic objects
            that read it (``StreamsContext.topic``); the ingest topics of that family join them.

    """

    def __init__(self, app: Any, settings: Settings, families: Mapping[str, list[Any]]) -> None:
        self.app = app
        self.settings = settings
        self.prefix = settings.topic_prefix
        self.families = {topic_name(f, self.prefix): channels for f, channels in families.items()}
        self.family_of = {topic_name(f, self.prefix): f for f in families}
        self.taken: set[str] = set()
        self.refused: set[str] = set()
        self._admin: Any = None
        set_resubscribe_delay(app, RESUBSCRIBE_S)

    def scan(self, timeout: float = 10.0) -> list[str]:
        """List the broker's topics (blocking) and take the new ingest topics; returns them."""
        if self._admin is None:
            self._admin = make_admin(self.settings.kafka)
        topics = self._admin.list_topics(timeout=timeout).topics
        new = []
        for name, meta in topics.items():
            found = tenant_of_topic(name, self.prefix)
            if found is None or name in self.taken or topic_name(found[1], self.prefix) not in self.families:
                continue
            if len(meta.partitions) != PARTITIONS:
                if name not in self.refused:
                    self.refused.add(name)
                    log.error("ingest topic not read: it must have the partitions of its family's topic",
                              extra={"topic": name, "partitions": len(meta.partitions),
                                     "expected": PARTITIONS, "tenant": found[0]})
                continue
            new.append(name)
        self.take(new)
        return new

    def take(self, names: list[str]) -> None:
        """Add ingest topics (full names) to the topics of the agents of their family."""
        for name in sorted(names):
            found = tenant_of_topic(name, self.prefix)
            if found is None:
                continue
            shared = topic_name(found[1], self.prefix)
            for channel in [*self.families.get(shared, ()), *self._live_channels(shared)]:
                if name not in channel.topics:
                    channel.topics = [*channel.topics, name]
            self.taken.add(name)
            log.info("reading a tenant's ingest topic", extra={"topic": name, "tenant": found[0]})

    def _live_channels(self, shared: str) -> list[Any]:
        """The conductor's topics that read ``shared`` (the agents' iterators are clones)."""
        return [t for t in list(self.app.topics) if shared in (getattr(t, "topics", None) or ())]

    async def tick(self) -> None:
        """Look for new ingest topics; subscribe again when one is not subscribed yet."""
        try:
            await asyncio.to_thread(self.scan)
        except Exception as exc:  # noqa: BLE001 - the next tick tries again
            log.warning("could not list topics for ingest topics", extra={"error": str(exc)[:300]})
            return
        if self.app.rebalancing:
            return  # the conductor drops a change asked for during a rebalance: ask after it
        subscribed = subscribed_topics(self.app)
        if subscribed and self.taken - subscribed:  # (before the first subscription: it takes them)
            resubscribe(self.app)
