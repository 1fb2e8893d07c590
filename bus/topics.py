"""The topic catalog: the only place that pairs a topic with its schema, key,
partitions and cleanup policy. ``apply_catalog`` makes the broker match it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
)

from bus.errors import RetriableError, TopicCatalogError

__all__ = [
    "AVAILABILITY",
    "ATTENDANCE",
    "CATALOG",
    "CONNECT_POSITIONS",
    "FACTS",
    "RELEASE",
    "IDENTITY",
    "MATCH",
    "REVIEW",
    "LASTMINUTE",
    "PERFORMANCES",
    "RECONCILIATION",
    "SALES",
    "SNAPSHOTS",
    "TENANTS",
    "TICKET_EVENTS",
    "UNMATCHED",
    "VENUES",
    "VENUE_LINKS",
    "TopicSpec",
    "apply_catalog",
    "dlq_of",
    "spec",
    "topic_name",
]

DAY_MS = 24 * 3600 * 1000
PARTITIONS = 4  # keyed topics are co-partitioned: every one of them has this count

TICKET_EVENTS = "ticketing.events"
SNAPSHOTS = "ticketing.snapshots"
PERFORMANCES = "calendar.performances"
IDENTITY = "participation.identity"
AVAILABILITY = "participation.availability"
ATTENDANCE = "participation.attendance"
SALES = "participation.sales"
LASTMINUTE = "participation.lastminute"
UNMATCHED = "participation.unmatched"
CONNECT_POSITIONS = "connect.positions"
FACTS = "participation.facts"
RELEASE = "streams.release"
RECONCILIATION = "participation.reconciliation"
MATCH = "streams.match"
REVIEW = "participation.identity.review"
VENUES = "streams.venues"
VENUE_LINKS = "participation.identity.venues"
TENANTS = "access.tenants"


@dataclass(frozen=True)
class TopicSpec:
    """What one topic is: name, value schema, key, layout, retention and owner."""

    name: str
    value_schema: str | None
    key: str
    partitions: int
    cleanup_policy: str
    retention_ms: int
    owner: str
    description: str
    extra_config: dict[str, str] = field(default_factory=dict)

    def configs(self) -> dict[str, str]:
        conf = {"cleanup.policy": self.cleanup_policy, "retention.ms": str(self.retention_ms)}
        if "compact" in self.cleanup_policy:
            conf.setdefault("min.cleanable.dirty.ratio", "0.1")
            conf.setdefault("segment.ms", str(DAY_MS))
        conf.update(self.extra_config)
        return conf

    def with_prefix(self, prefix: str) -> TopicSpec:
        return TopicSpec(prefix + self.name, self.value_schema, self.key, self.partitions,
                         self.cleanup_policy, self.retention_ms, self.owner, self.description,
                         dict(self.extra_config))


def dlq_of(name: str) -> str:
    """The dead-letter twin of a topic."""
    return f"{name}.dlq"


_FACTS = [
    TopicSpec(TICKET_EVENTS, "ticket_event.avsc", "source performance key (namespace|value)",
              PARTITIONS, "delete", 400 * DAY_MS, "connectors",
              "Ticket facts: sold, cancelled, refunded, reserved, released, blocked, scanned."),
    TopicSpec(SNAPSHOTS, "sales_snapshot.avsc", "source performance key (namespace|value)",
              PARTITIONS, "delete", 400 * DAY_MS, "connectors",
              "Cumulative DIP-style sales snapshots; streams derive deltas."),
    TopicSpec(PERFORMANCES, "performance.avsc", "source performance key (namespace|value)",
              PARTITIONS, "compact", -1, "connectors",
              "Performances from calendars (UiTdatabank, DIP, schema.org, iCal, vendors)."),
    TopicSpec(IDENTITY, "identity_link.avsc", "namespace|value", PARTITIONS, "compact", -1,
              "streams", "Identity crosswalk: identifier -> canonical performance id."),
    TopicSpec(AVAILABILITY, "availability.avsc", "canonical performance id", PARTITIONS,
              "compact", -1, "streams", "Live availability per performance, on every change."),
    TopicSpec(ATTENDANCE, "attendance.avsc", "canonical performance id", PARTITIONS,
              "compact", -1, "streams", "Door scans and no-shows per performance."),
    TopicSpec(SALES, "sales_window.avsc", "performance|granularity|window|type|channel",
              PARTITIONS, "compact", -1, "streams", "Sales per hour/day, ticket type, channel."),
    TopicSpec(LASTMINUTE, "lastminute_offer.avsc", "canonical performance id", PARTITIONS,
              "compact", -1, "streams",
              "Last-minute offers; a tombstone withdraws one."),
    TopicSpec(RECONCILIATION, "reconciliation.avsc", "canonical performance id", PARTITIONS,
              "compact", -1, "streams", "Declared availability against computed: DRIFT when they "
              "differ by more than streams.declared_drift_seats, RESOLVED when they agree again."),
    TopicSpec(FACTS, None, "canonical performance id", PARTITIONS, "delete", 400 * DAY_MS,
              "streams", "Raw facts (ticket events, snapshots, performances) re-keyed by canonical "
              "performance id; original Confluent-wire Avro bytes, header cultuurbus.kind."),
    TopicSpec(RELEASE, None, "source performance key", PARTITIONS, "delete", 7 * DAY_MS,
              "streams", "Internal: asks the identity agent to release parked facts of a key, to "
              "move a key to its renamed performance (JSON follow), or (kind reroute, JSON) to "
              "move its counted facts to another performance."),
    TopicSpec(MATCH, None, "local day of the start (YYYY-MM-DD, Europe/Amsterdam)", PARTITIONS, "delete",
              30 * DAY_MS, "streams",
              "Internal: calendar facts no identifier links (original bytes, kind header) and a "
              "person's decisions (kind decision, JSON), decided one day at a time by identity-match."),
    TopicSpec(REVIEW, "identity_candidate.avsc", "candidate id", PARTITIONS, "compact", -1, "streams",
              "Identity match candidates: both descriptions, score, reason, state; a person "
              "accepts or rejects PENDING ones (`cultuurbus identity`)."),
    TopicSpec(VENUES, None, "venue id", 1, "delete", 30 * DAY_MS, "streams",
              "Internal: venue evidence (JSON): a venue as a calendar describes it and the canonical "
              "performance it hosts; ONE partition, so the one identity-venues agent decides in order."),
    TopicSpec(VENUE_LINKS, "venue_link.avsc", "venue id", PARTITIONS, "compact", -1, "streams",
              "Venue crosswalk: venue id -> canonical venue id, with why (performance, match) and "
              "a candidate for a person to judge (`cultuurbus identity venues`)."),
    TopicSpec(UNMATCHED, None, "source performance key", PARTITIONS, "delete", 400 * DAY_MS,
              "streams", "Copies of ticket facts and snapshots parked because their performance "
              "is not known yet (original Confluent-wire Avro bytes)."),
    TopicSpec(TENANTS, None, "tenant name", 1, "compact", -1, "ops",
              "The tenant directory (JSON, bus/tenants.py): kind, the venues and productions a "
              "tenant is registered for, its API token's SHA-256, revoked; written by "
              "`cultuurbus tenant` only."),
    TopicSpec(CONNECT_POSITIONS, None, "connector name|source partition", 1, "compact", -1,
              "connectors", "Durable source positions (cursors) of connectors, JSON."),
]

CATALOG: tuple[TopicSpec, ...] = (
    *_FACTS,
    *(
        TopicSpec(dlq_of(t.name), None, t.key, 1, "delete", 30 * DAY_MS, t.owner,
                  f"Dead letters of {t.name}: original bytes, errors.* headers.")
        for t in _FACTS if t.name != CONNECT_POSITIONS
    ),
)


def topic_name(name: str, prefix: str = "") -> str:
    """The topic on the broker for a catalog name: ``topic_name(AVAILABILITY, "prod.")`` ->
    ``prod.participation.availability``. Every role builds topic names here, nowhere else."""
    return prefix + name


def spec(name: str) -> TopicSpec:
    """The catalog entry for an unprefixed topic name."""
    for t in CATALOG:
        if t.name == name:
            return t
    raise TopicCatalogError(f"topic {name!r} is not in the catalog (bus/topics.py)")


@dataclass(frozen=True)
class TopicChange:
    topic: str
    action: str  # created | updated | unchanged | partitions-added
    detail: str = ""


def _wait(futures: dict, what: str, timeout: float) -> dict:  # type: ignore[type-arg]
    out = {}
    for key, fut in futures.items():
        try:
            out[key] = fut.result(timeout=timeout)
        except KafkaException as exc:
            raise RetriableError(f"{what} {key}: {exc}", retry_after=2.0) from exc
    return out


def _await_leaders(admin: AdminClient, names: list[str], timeout: float) -> None:
    """Wait (bounded) until every partition of new topics has a leader: a client that
    asks a fresh topic for its offsets too early gets NOT_LEADER_FOR_PARTITION."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        meta = admin.list_topics(timeout=timeout)
        if all(n in meta.topics and meta.topics[n].error is None and meta.topics[n].partitions
               and all(p.leader >= 0 for p in meta.topics[n].partitions.values()) for n in names):
            return
        time.sleep(0.2)


def apply_catalog(admin: AdminClient, prefix: str = "", replication_factor: int = 1,
                  catalog: Iterable[TopicSpec] = CATALOG, timeout: float = 30.0) -> list[TopicChange]:
    """Create missing topics and bring configs of existing ones in line; idempotent.

    Raises:
        TopicCatalogError: a topic has more partitions than the catalog (cannot shrink).

    """
    specs = [s.with_prefix(prefix) for s in catalog]
    meta = admin.list_topics(timeout=timeout)
    changes: list[TopicChange] = []
    missing = [s for s in specs if s.name not in meta.topics]
    if missing:
        futs = admin.create_topics(
            [NewTopic(s.name, s.partitions, replication_factor, config=s.configs()) for s in missing],
            operation_timeout=timeout, request_timeout=timeout,
        )
        for name, fut in futs.items():
            try:
                fut.result(timeout=timeout)
                changes.append(TopicChange(name, "created"))
            except KafkaException as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise RetriableError(f"creating topic {name}: {exc}") from exc
                changes.append(TopicChange(name, "unchanged", "created concurrently"))
    if missing:
        _await_leaders(admin, [s.name for s in missing], timeout)
    existing = [s for s in specs if s.name in meta.topics]
    if not existing:
        return changes
    grow = {}
    for s in existing:
        have = len(meta.topics[s.name].partitions)
        if have > s.partitions:
            raise TopicCatalogError(
                f"topic {s.name} has {have} partitions but the catalog says {s.partitions}; "
                "Kafka cannot shrink a topic: recreate it or change bus/topics.py")
        if have < s.partitions:
            grow[s.name] = NewPartitions(s.name, s.partitions)
    if grow:
        _wait(admin.create_partitions(list(grow.values()), request_timeout=timeout),
              "adding partitions to", timeout)
    resources = [ConfigResource(ConfigResource.Type.TOPIC, s.name) for s in existing]
    described = _wait(admin.describe_configs(resources, request_timeout=timeout),
                      "describing", timeout)
    by_name = {r.name: entries for r, entries in described.items()}
    for s in existing:
        entries = by_name[s.name]
        diff = {k: v for k, v in s.configs().items()
                if k not in entries or entries[k].value != v}
        if not diff:
            changes.append(TopicChange(s.name, "partitions-added" if s.name in grow else "unchanged"))
            continue
        res = ConfigResource(
            ConfigResource.Type.TOPIC, s.name,
            incremental_configs=[ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
                                 for k, v in diff.items()],
        )
        _wait(admin.incremental_alter_configs([res]), "altering", timeout)
        changes.append(TopicChange(s.name, "updated", ", ".join(f"{k}={v}" for k, v in diff.items())))
    return changes
