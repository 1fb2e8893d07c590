"""The built-in roles' Kafka principals and what each may do, as code.

Every role connects as its own principal (``User:<name>``), never as a shared one, so the
authorizer (``allow.everyone.if.no.acl.found=false``) limits each to what it needs.
:data:`ROLE_GRANTS` says what that is; :func:`role_bindings` turns it into ACL bindings
for one topic prefix and one set of settings (the sink's group id, the streams app id);
:func:`apply_role_access` gives each principal its SCRAM credential (password from the
stack's secrets) and reconciles its ACLs. Tenants' grants come from the data-product
catalog (``ops.catalog``) and are reconciled on top of these by ``cultuurbus access apply``.

Kafka semantics relied on: READ, WRITE and ALTER imply DESCRIBE, ALTER_CONFIGS implies
DESCRIBE_CONFIGS; idempotent producers need only WRITE (Kafka 3.0+); no role uses
transactions (no ``transactional_id`` anywhere), so no TRANSACTIONAL_ID grants.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from bus import topics as t
from bus.settings import Settings
from bus.topics import CATALOG, dlq_of, topic_name
from ops.access.acls import AclChange, reconcile, upsert_scram

if TYPE_CHECKING:
    from ops.stack.settings import StackSettings

__all__ = [
    "CONNECTOR", "GATEWAY", "LAG_EXPORTER", "OPS", "ROLE_GRANTS", "ROLE_PRINCIPALS", "SINK", "STREAMS",
    "Grant", "apply_role_access", "role_bindings", "streams_app_id",
]

STREAMS = "cultuurbus-streams"
SINK = "cultuurbus-sink"
GATEWAY = "cultuurbus-gateway"
LAG_EXPORTER = "cultuurbus-lag-exporter"
OPS = "cultuurbus-ops"
#: The built-in sector connectors (simulator, calendars); vendors are tenants.
CONNECTOR = "cultuurbus-connector"

Resource = Literal["topic", "group", "cluster"]
_RESTYPE = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP, "cluster": ResourceType.BROKER}
_CLUSTER = "kafka-cluster"  # the one name of Kafka's CLUSTER resource


@dataclass(frozen=True)
class Grant:
    """Operations on resources, and why the role needs them.

    ``names`` are catalog topic names (the topic prefix is added), group ids, or a
    function of the settings giving them; ``prefixed``: a PREFIXED pattern (every name
    starting with it) instead of a LITERAL one; ``dlq``: the names' ``.dlq`` twins too.
    """

    resource: Resource
    names: tuple[str, ...] | Callable[[Settings], tuple[str, ...]]
    operations: tuple[str, ...]
    why: str
    prefixed: bool = False
    dlq: bool = False


def streams_app_id(settings: Settings) -> str:
    """The Faust app id, also its consumer group and its internal topics' prefix
    (streams/app.py: ``streams.app_id`` plus ``-<topic prefix>`` when there is one)."""
    prefix = settings.topic_prefix.strip(".")
    return settings.streams.app_id + (f"-{prefix}" if prefix else "")


_CONNECTOR_FACTS = (t.TICKET_EVENTS, t.SNAPSHOTS, t.PERFORMANCES)
_STREAMS_OWNED = tuple(c.name for c in CATALOG if c.owner == "streams" and not c.name.endswith(".dlq"))
_SINK_READS = (t.AVAILABILITY, t.ATTENDANCE, t.SALES, t.LASTMINUTE, t.IDENTITY, t.VENUE_LINKS, t.FACTS,
               t.UNMATCHED)
_CATALOG_NAMES = tuple(c.name for c in CATALOG)

#: principal -> what it needs. Read each role's code before changing a line here.
ROLE_GRANTS: dict[str, tuple[Grant, ...]] = {
    STREAMS: (
        Grant("topic", _CONNECTOR_FACTS, ("READ",),
              "its input: the connectors' ticket facts, snapshots and performances"),
        Grant("topic", _STREAMS_OWNED, ("READ", "WRITE"),
              "it writes every streams-owned topic and reads most back (facts, identity, "
              "release, match, venues, review, availability for last-minute)"),
        Grant("topic", (*_CONNECTOR_FACTS, *_STREAMS_OWNED, t.TENANTS), ("WRITE",),
              "dead letters of whatever it reads go to the topic's .dlq twin "
              "(streams/context.py dead_letter; the compacted readers, bus/compacted.py)", dlq=True),
        Grant("topic", (*_CONNECTOR_FACTS, *_STREAMS_OWNED), ("DESCRIBE_CONFIGS",),
              "the co-partitioning check at start and Faust's topic declarations describe them"),
        Grant("topic", (t.TENANTS,), ("READ",),
              "accepts a fact only for venues its sending tenant is registered for (issue #15)"),
        Grant("topic", lambda s: (f"{s.topic_prefix}ingest.",), ("READ",),
              "subscribes to every vendor's ingest topics", prefixed=True),
        Grant("topic", lambda s: (streams_app_id(s) + "-",), ("CREATE", "READ", "WRITE", "DESCRIBE_CONFIGS"),
              "Faust creates, writes and recovers from its own changelog, repartition and "
              "leader topics (<app id>-*)", prefixed=True),
        Grant("group", lambda s: (streams_app_id(s),), ("READ",),
              "the Faust consumer group is the app id"),
        Grant("group", ("cultuurbus-crosswalk-",), ("READ",),
              "the identity crosswalk's compacted reader (bus/compacted.py group "
              "cultuurbus-<source>-<random>)", prefixed=True),
    ),
    SINK: (
        Grant("topic", _SINK_READS, ("READ",),
              "it writes these topics into ClickHouse (sinks/clickhouse/decode.py)"),
        Grant("topic", _SINK_READS, ("WRITE",), "records it cannot decode go to the .dlq twin",
              dlq=True),
        Grant("group", lambda s: (s.sink.group_id,), ("READ",),
              "its consumer group (sink.group_id) commits its positions"),
    ),
    GATEWAY: (
        Grant("topic", (t.AVAILABILITY, t.LASTMINUTE), ("READ",),
              "it serves availability and last-minute offers, and nothing else"),
        Grant("topic", (t.TENANTS,), ("READ",), "authenticates callers by the tenants' API tokens"),
        Grant("group", ("cultuurbus-gateway-", "cultuurbus-tenants-"), ("READ",),
              "its compacted readers (view, tenant directory): cultuurbus-<source>-<random>",
              prefixed=True),
        Grant("topic", (t.AVAILABILITY, t.LASTMINUTE, t.TENANTS), ("WRITE",),
              "its compacted readers dead-letter a record they cannot apply", dlq=True),
    ),
    LAG_EXPORTER: (
        Grant("group", ("*",), ("DESCRIBE",),
              "lists every consumer group and its committed offsets"),
        Grant("topic", ("*",), ("DESCRIBE",),
              "end offsets of every topic a group reads (any prefix: it watches the whole broker)"),
        Grant("group", ("cultuurbus-lag-exporter",), ("READ",),
              "its own consumer, used only to ask for watermarks"),
    ),
    OPS: (
        Grant("topic", _CATALOG_NAMES, ("CREATE", "ALTER", "ALTER_CONFIGS"),
              "`topics apply` creates the catalog's topics, adds partitions and sets configs"),
        Grant("topic", (t.TENANTS,), ("READ", "WRITE"),
              "`cultuurbus tenant` reads and writes the tenant directory"),
        Grant("topic", (t.REVIEW, t.IDENTITY, t.VENUE_LINKS, t.AVAILABILITY, t.LASTMINUTE), ("READ",),
              "`cultuurbus identity` shows candidates and links; the demo board follows "
              "availability and last-minute offers"),
        Grant("topic", (t.TENANTS, t.REVIEW, t.IDENTITY, t.VENUE_LINKS), ("WRITE",),
              "its compacted readers dead-letter a record they cannot apply", dlq=True),
        Grant("topic", (t.MATCH, t.VENUES), ("WRITE",),
              "`cultuurbus identity` sends a person's decisions to the worker (accept, reject, "
              "undo on the match topic; venue accept/undo on the venue topic)"),
        Grant("topic", lambda s: (f"{s.topic_prefix}ingest.",), ("CREATE", "ALTER", "ALTER_CONFIGS"),
              "`tenant add` creates a vendor's ingest topics", prefixed=True),
        Grant("group", ("cultuurbus-tenant-cli-", "cultuurbus-identity-cli-", "cultuurbus-report-", "demo-"),
              ("READ",), "the compacted readers of its commands (tenant, identity, report's tenant "
                         "directory) and the demo board", prefixed=True),
        Grant("cluster", (_CLUSTER,), ("ALTER", "DESCRIBE"),
              "creates, lists and removes ACLs and SCRAM credentials (tenant, access apply)"),
    ),
    CONNECTOR: (
        Grant("topic", _CONNECTOR_FACTS, ("READ", "WRITE"),
              "publishes ticket facts, snapshots and performances; the simulator reads them "
              "back to check its run against its truth"),
        Grant("topic", _CONNECTOR_FACTS, ("READ", "WRITE"),
              "bad input is dead-lettered with its original bytes (and read back)", dlq=True),
        Grant("topic", (t.CONNECT_POSITIONS,), ("READ", "WRITE"),
              "durable source positions (connectors/sdk/positions.py)"),
        Grant("group", ("positions-reader-", "read-back-"), ("READ",),
              "its position reader and the simulator's read-back consumers", prefixed=True),
    ),
}
#: Every built-in role principal (Kafka user names, no ``User:``).
ROLE_PRINCIPALS: tuple[str, ...] = tuple(ROLE_GRANTS)


def _names(grant: Grant, topic_prefix: str, settings: Settings) -> list[str]:
    names = list(grant.names(settings) if callable(grant.names) else grant.names)
    if grant.resource == "topic" and not callable(grant.names) and names != ["*"]:
        names = [topic_name(n, topic_prefix) for n in names]
    if grant.dlq:
        names = [dlq_of(n) for n in names]
    return names


def role_bindings(topic_prefix: str, settings: Settings,
                  principals: Iterable[str] = ROLE_PRINCIPALS) -> list[AclBinding]:
    """The ALLOW bindings of the role principals for topics under ``topic_prefix``."""
    s = settings.model_copy(update={"topic_prefix": topic_prefix})
    out: dict[tuple[object, ...], AclBinding] = {}
    for principal in principals:
        for grant in ROLE_GRANTS[principal]:
            pattern = ResourcePatternType.PREFIXED if grant.prefixed else ResourcePatternType.LITERAL
            for name in _names(grant, topic_prefix, s):
                for op in grant.operations:
                    b = AclBinding(_RESTYPE[grant.resource], name, pattern, f"User:{principal}", "*",
                                   AclOperation[op], AclPermissionType.ALLOW)
                    out[(grant.resource, name, pattern, principal, op)] = b
    return list(out.values())


def apply_role_access(admin: AdminClient, topic_prefix: str, settings: Settings | None = None, *,
                      stack: StackSettings | None = None) -> list[AclChange]:
    """Give each role principal its credential (from ``stack``'s secrets, when given) and
    make its ACLs for ``topic_prefix`` what :data:`ROLE_GRANTS` says.

    Bindings on resources this prefix's grants never name (another prefix's topics) are
    left alone, so a test session's prefix and the stack's own ("") live side by side.
    """
    settings = settings or Settings()
    if stack is not None:
        for principal in ROLE_PRINCIPALS:
            upsert_scram(admin, principal, stack.kafka_password(principal))
    wanted = role_bindings(topic_prefix, settings)
    resources = {(b.restype, b.name, b.resource_pattern_type) for b in wanted}
    return reconcile(admin, wanted, [f"User:{p}" for p in ROLE_PRINCIPALS],
                     owns=lambda b: (b.restype, b.name, b.resource_pattern_type) in resources)
