"""Running real stream workers against the real broker, and reading their results."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException, TopicPartition

from bus.codec import ACCEPTED_MOVE, MOVE_HEADER, RETRACT_PREFIX, FactReader
from bus.kafka import make_admin, make_consumer, make_producer
from bus.serde import AvroDeserializer, Registry
from bus.settings import Settings
from bus.topics import FACTS, apply_catalog
from ops.access.principals import STREAMS, apply_role_access
from ops.stack.pipeline import register_schemas
from ops.stack.ports import free_ports
from tests.support import waiting
from tests.support.roles import role_env

REPO = Path(__file__).resolve().parents[3]


def fresh(settings: Settings, tag: str) -> Settings:
    """The same stack under a new topic prefix with the catalog, its schemas and the roles'
    ACLs applied (as ops does: the roles may only read schemas)."""
    prefix = f"{tag}{uuid.uuid4().hex[:6]}."
    s = settings.model_copy(update={"topic_prefix": prefix})
    admin = make_admin(s.kafka)
    apply_catalog(admin, prefix)
    apply_role_access(admin, prefix, s)
    register_schemas(Registry(s.registry), prefix)
    return s


def env_for(settings: Settings, data_dir: Path, principal: str = STREAMS) -> dict[str, str]:
    """A role subprocess's environment: ``settings``' prefix, connecting as ``principal``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CULTUURBUS_")}
    env.update(role_env(principal))
    env.update({
        "CULTUURBUS_REGISTRY__URL": settings.registry.url,
        "CULTUURBUS_TOPIC_PREFIX": settings.topic_prefix,
        "CULTUURBUS_STREAMS__DATA_DIR": str(data_dir),
        "CULTUURBUS_STREAMS__LASTMINUTE_TICK_S": "1",
        "CULTUURBUS_LOG_FORMAT": "text",
        "PYTHONPATH": str(REPO),
    })
    return env


@dataclass
class Worker:
    name: str
    settings: Settings
    data_dir: Path
    log: Path
    port: int = field(default_factory=lambda: free_ports(1)[0])
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ops.cli", "streams", "worker", "--name", self.name,
             "--web-port", str(self.port), "--loglevel", "warning"],
            env=env_for(self.settings, self.data_dir), stdout=out, stderr=subprocess.STDOUT,
            cwd=REPO, start_new_session=True)
        return self

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class Raw:
    topic: str  # unprefixed
    partition: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] | None
    offset: int = -1  # where it was read (replay ignores it)


_TRANSIENT = {KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE, KafkaError._TIMED_OUT,
              KafkaError._TRANSPORT}


def watermarks(consumer: Any, name: str, partition: int) -> tuple[int, int]:
    """Low and high watermark of a partition; a busy single broker answers NOT_LEADER now
    and then (retriable, the leader is there a moment later), so ask again a few times."""
    for attempt in range(10):
        try:
            lo, hi = consumer.get_watermark_offsets(TopicPartition(name, partition), timeout=10)
            return int(lo), int(hi)
        except KafkaException as exc:
            if exc.args[0].code() not in _TRANSIENT or attempt == 9:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


def read_raw(settings: Settings, topics: Iterable[str], timeout: float = 60) -> list[Raw]:
    """Every record of the given (unprefixed) topics, in partition order."""
    c = make_consumer(settings.kafka, f"raw-{uuid.uuid4().hex[:6]}", isolation_level="read_uncommitted")
    out: list[Raw] = []
    try:
        for topic in topics:
            name = settings.topic_prefix + topic
            parts = c.list_topics(name, timeout=10).topics[name].partitions
            for p in parts:
                lo, hi = watermarks(c, name, p)
                if hi <= lo:
                    continue
                c.assign([TopicPartition(name, p, OFFSET_BEGINNING)])
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    m = c.poll(0.5)
                    if m is None or m.error():
                        continue
                    out.append(Raw(topic, p, m.key(), m.value(), m.headers(), m.offset()))
                    if m.offset() >= hi - 1:
                        break
                else:
                    raise AssertionError(f"timed out reading {name}[{p}]")
    finally:
        c.close()
    return out


def replay(settings: Settings, records: Iterable[Raw]) -> int:
    """Produce records as they are (same key, bytes, headers) under ``settings``' prefix."""
    p = make_producer(settings.kafka)
    n = 0
    for r in records:
        p.produce(settings.topic_prefix + r.topic, key=r.key, value=r.value, headers=r.headers)
        n += 1
        if n % 2000 == 0:
            p.poll(0)
    assert p.flush(60) == 0
    return n


def latest(settings: Settings, topic: str, reader_schema: str, timeout: float = 60) -> dict[str, Any]:
    """The latest value per key of a compacted topic (None for a tombstone)."""
    de = AvroDeserializer(Registry(settings.registry), reader_schema)
    out: dict[str, Any] = {}
    for r in read_raw(settings, [topic], timeout):
        out[(r.key or b"").decode()] = de(r.value) if r.value is not None else None
    return out


_MOVES = (("retraction", RETRACT_PREFIX), ("accepted copy", ACCEPTED_MOVE))


def facts_report(settings: Settings, pids: Iterable[str], most: int = 5) -> str:
    """What ``participation.facts`` (the identity agents' output, the facts agent's input)
    holds for each of ``pids`` (at most ``most``), and for the same source keys under any
    other performance id: per kind, event type and move header, how many records, how many
    distinct fact ids and their offsets' range. Printed by a failed settle, it says which
    hop lost facts: all here, the facts agent; some under another id, the identity agents
    routed them there; too few anywhere, the identity agents (or a source)."""
    wanted = list(pids)[:most]
    reader = FactReader(Registry(settings.registry))
    facts = []
    undecodable = 0
    for r in read_raw(settings, [FACTS]):
        if r.value is not None:
            try:
                kind, rec = reader(r.value)
            except Exception:  # noqa: BLE001 - the report counts them; the diffs matter more
                undecodable += 1
                continue
            facts.append(((r.key or b"").decode(), kind, rec, r))
    sources = {str(rec.get("performance_key")) for pid, kind, rec, _ in facts
               if pid in wanted and kind != "performance"}
    groups: dict[tuple[str, str, int, str, str], list[tuple[int, str]]] = {}
    sold: dict[tuple[str, int, int], str] = {}
    for pid, kind, rec, r in facts:
        if pid not in wanted and (kind == "performance" or str(rec.get("performance_key")) not in sources):
            continue
        move = dict(r.headers or []).get(MOVE_HEADER, b"").decode()
        move = next((name for name, prefix in _MOVES if move.startswith(prefix)), "re-sent") if move else ""
        what = (pid, kind, r.partition, str(rec.get("event_type", "")), move)
        groups.setdefault(what, []).append((r.offset, str(rec.get("fact_id"))))
        if kind == "snapshot":  # cumulative: the last one is what availability must show
            tickets = sum(int(line["tickets"]) for line in rec.get("lines") or ())
            sold[(pid, r.partition, r.offset)] = f", the last sold {tickets} at {rec.get('event_time')}"
    lines = [f"participation.facts under {settings.topic_prefix} for {', '.join(wanted)} "
             f"(and their source keys {', '.join(sorted(sources))} under other ids; "
             f"{undecodable} records not decodable):"]
    for (pid, kind, partition, event_type, move), got in sorted(groups.items()):
        offsets = [o for o, _ in got]
        lines.append(f"  {pid} [{partition}] {kind} {event_type or '-'} move={move or '-'}: {len(got)} records, "
                     f"{len({f for _, f in got})} fact ids, offsets {min(offsets)}-{max(offsets)}"
                     + sold.get((pid, partition, max(offsets)), ""))
    return "\n".join(lines)


def wait_until(check: Any, timeout: float, interval: float = 2.0) -> Any:
    """The shared ``wait_until``, every 2 s by default: a check here reads whole topics."""
    return waiting.wait_until(check, timeout, interval)
