"""What the trust layer costs (issue #15): SASL/SCRAM + ACLs on produce and on the streams
worker, against the same broker without them in the same run, and how soon a revoked
tenant is refused (``bench/revocation.py``).

The bench's stack gives its one broker two client listeners (``StackSettings.
kafka_plaintext_port``): the SASL_PLAINTEXT one every role uses (SCRAM-SHA-512 login; the
StandardAuthorizer checks each request against the ACLs) and a PLAINTEXT one where every
client is ``User:ANONYMOUS``, a super user (no login, no ACL looked at). "With" and
"without" send the same records with the same client code to topics of the same layout,
taking turns at going first; speed is compared as ratios and per CPU-second, since the
machine is shared. The broker's CPU is read too: the ACL checks happen there.

- produce: a vendor tenant (``add_tenant``) to its ingest topic vs the anonymous client
  to the shared ticket topic, ``sizes.ceiling_events`` ticket facts with the project's
  producer (``make_producer``: idempotent, acks=all, lz4);
- connect: a new client's time to its first metadata answer, SCRAM login vs none;
- streams: the real worker as ``cultuurbus-streams`` over SASL vs over PLAINTEXT, the
  dataset's calendar and ticket facts on fresh topics each; and a third side, "tenant": the
  worker over SASL again, but the ticket facts sent by a vendor tenant (registered for every
  venue of the dataset) to its ingest topic with its own login, so each one is forwarded
  with its tenant, judged for ownership against the DIP calendar facts (on the shared
  topic) and written once more as its accepted copy (``bus.codec.ACCEPTED_MOVE``); after
  the run the accepted copies on ``participation.facts`` are counted (one per ticket fact:
  every one counted, none refused or held). Reported against "with" (tenant / with).
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from bench.data import Dataset
from bench.env import Bench, broker_pid, plaintext_kafka
from bench.feed import Feed
from bench.kafkaio import bench_consumer, produce_all, schema_id
from bench.revocation import FAMILY, measure_revocation, tenant_login, vendor
from bench.roles import cpu_seconds, running
from bus.codec import ACCEPTED_MOVE, MOVE_HEADER
from bus.kafka import kafka_env, make_admin, make_producer
from bus.settings import KafkaSettings, Settings
from bus.tenants import ingest_topic
from bus.topics import FACTS, TICKET_EVENTS, topic_name
from ops.tenants.service import add_tenant

__all__ = ["measure_security"]

SIDES = ("with", "without")
STREAMS_SIDES = (*SIDES, "tenant")


def _broker_cpu() -> float:
    pid = broker_pid()
    return cpu_seconds(pid) if pid else 0.0


def _produce_once(kafka: KafkaSettings, topic: str, keys: list[bytes], values: list[bytes]) -> dict[str, Any]:
    """One producer, warmed by one record (connection, producer id, metadata), then every record."""
    producer = make_producer(kafka)
    produce_all(producer, topic, keys[:1], values[:1])
    broker0, cpu0, t0 = _broker_cpu(), time.process_time(), time.perf_counter()
    produce_all(producer, topic, keys, values)
    seconds, cpu, broker = time.perf_counter() - t0, time.process_time() - cpu0, _broker_cpu() - broker0
    n = len(values)
    return {"seconds": round(seconds, 3), "eps": n / seconds, "cpu_seconds": round(cpu, 3),
            "eps_per_cpu_s": n / cpu if cpu > 0 else None, "broker_cpu_seconds": round(broker, 3),
            "eps_per_broker_cpu_s": n / broker if broker > 0 else None}


def _connect_s(kafka: KafkaSettings, topic: str) -> float:
    """A new client's seconds to its first metadata answer (for ``topic``): connection,
    the SASL handshake and SCRAM exchange when there is one, the metadata request. The
    client is destroyed after the clock stops (librdkafka's destroy joins its threads)."""
    t0 = time.perf_counter()
    admin = make_admin(kafka, socket_timeout_ms=10_000)
    admin.list_topics(topic, timeout=15)
    seconds = time.perf_counter() - t0
    del admin
    return seconds


def _median(runs: list[dict[str, Any]], key: str) -> float | None:
    got = [r[key] for r in runs if r.get(key)]
    return statistics.median(got) if got else None


def _summary(runs: dict[str, list[dict[str, Any]]], keys: tuple[str, ...]) -> dict[str, Any]:
    """Median of each ``key`` per side, and the ratios with / without (``ratio_<key>``) and,
    when there is a "tenant" side, tenant / with (``ratio_tenant_with_<key>``)."""
    out: dict[str, Any] = {side: {k: _median(got, k) for k in keys} for side, got in runs.items()}
    pairs = {"ratio_": ("with", "without"), "ratio_tenant_with_": ("tenant", "with")}
    for name, (x, y) in pairs.items():
        if x not in out:
            continue
        for k in ("eps", "eps_per_cpu_s"):
            a, b = out[x].get(k), out[y].get(k)
            out[f"{name}{k}"] = float(f"{a / b:.4g}") if a and b else None
    out["runs"] = runs
    return out


_PRODUCE_KEYS = ("eps", "seconds", "cpu_seconds", "eps_per_cpu_s", "broker_cpu_seconds",
                 "eps_per_broker_cpu_s")


def _produce(bench: Bench, s: Settings, plain: KafkaSettings, ds: Dataset, n: int, rounds: int
             ) -> dict[str, Any]:
    _, login, ingest = vendor(s, make_admin(s.kafka), f"fast-{s.topic_prefix.strip('.')[-5:]}")
    shared = topic_name(TICKET_EVENTS, s.topic_prefix)  # the ingest topic's layout (bus/tenants.py)
    reps = -(-n // len(ds.event_bodies))
    keys = (ds.event_keys() * reps)[:n]
    sides = {"with": (login, ingest), "without": (plain, shared)}
    values = {side: (ds.wire(schema_id(bench.registry, topic, "ticket_event.avsc"), ds.event_bodies)
                     * reps)[:n] for side, (_, topic) in sides.items()}
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    connects: dict[str, list[float]] = {side: [] for side in SIDES}
    for i in range(rounds):
        for side in SIDES if i % 2 == 0 else SIDES[::-1]:
            kafka, topic = sides[side]
            runs[side].append(_produce_once(kafka, topic, keys, values[side]))
            connects[side] += [_connect_s(kafka, topic) for _ in range(4)]
    out = _summary(runs, _PRODUCE_KEYS)
    out["records"], out["rounds"] = n, rounds
    ms = {side: 1000 * statistics.median(c) for side, c in connects.items()}
    out["connect_ms"] = {"with": round(ms["with"], 1), "without": round(ms["without"], 1),
                         "ratio": float(f"{ms['with'] / ms['without']:.4g}"),
                         "scram_extra_ms": round(ms["with"] - ms["without"], 1),
                         "fastest": {side: round(1000 * min(c), 1) for side, c in connects.items()},
                         "samples": {side: [round(1000 * x, 1) for x in c] for side, c in connects.items()}}
    for side in SIDES:
        bench.say(f"security produce {side} SASL+ACLs: {out[side]['eps']:,.0f} events/s, "
                  f"{out[side]['eps_per_cpu_s'] or 0:,.0f} per producer CPU-s, connect {ms[side]:.1f} ms")
    return out


def _tenant_feed(s: Settings, ds: Dataset, name: str, wait_s: float = 30.0) -> dict[str, Any]:
    """A vendor tenant ``name`` registered for every venue of ``ds`` (its ingest topics made
    now, so the worker subscribes to them when it starts); the ``Feed`` arguments that send
    the ticket facts to its ingest topic with its login, once the broker takes the login."""
    venues = sorted({str(p["venue"]["id"]) for p in ds.performances})
    login = tenant_login(s, add_tenant(s, make_admin(s.kafka), "vendor", name, venues=venues))
    topic = ingest_topic(name, FAMILY, s.topic_prefix)
    deadline = time.monotonic() + wait_s
    while True:  # the credential is in the metadata log; the broker applies it shortly after
        try:
            make_admin(login, socket_timeout_ms=5_000).list_topics(topic, timeout=5)
            return {"ticket_topic": topic, "ticket_kafka": login}
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _accepted_copies(s: Settings, expected: int, wait_s: float = 60.0) -> dict[str, int]:
    """Records on ``participation.facts`` by their move header, read from the start as the
    bench's admin until the topic is drained with at least ``expected`` accepted copies (or
    ``wait_s`` passed): ``accepted`` counts those whose ``MOVE_HEADER`` starts with it."""
    topic = topic_name(FACTS, s.topic_prefix)
    consumer = bench_consumer(s)
    moves: Counter[str] = Counter()
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            msgs = [m for m in consumer.consume(10_000, 0.5) if m.error() is None]
            for m in msgs:
                move = dict(m.headers() or []).get(MOVE_HEADER) or b""
                text = move.decode() if isinstance(move, bytes) else move
                moves[text.partition(":")[0] or "none"] += 1
            if not msgs and moves[ACCEPTED_MOVE] >= expected:
                break
    finally:
        consumer.close()
    return {"accepted": moves[ACCEPTED_MOVE], "records": sum(moves.values())}


def _streams_side(bench: Bench, ds: Dataset, sizes: Any, side: str, tag: str, plain: KafkaSettings
                  ) -> dict[str, Any]:
    """The dataset through a fresh worker on fresh topics; SASL as ``cultuurbus-streams``
    ("with", "tenant": the ticket facts from a vendor tenant) or the worker and the feed on
    the PLAINTEXT listener ("without")."""
    s = bench.fresh(tag)
    without = side == "without"
    tenant = _tenant_feed(s, ds, f"vendor-{s.topic_prefix.strip('.')}") if side == "tenant" else {}
    worker = bench.worker(s, tag, **(kafka_env(plain) if without else {}))
    fed = s.model_copy(update={"kafka": plain}) if without else s
    with running(worker, timeout=120):
        feed = Feed(fed, ds, bench.registry, cap_s=sizes.max_wait_s, **tenant)
        try:
            feed.calendar((worker,))
            broker0 = _broker_cpu()
            out = feed.tickets((worker,))
            out["broker_cpu_seconds"] = round(_broker_cpu() - broker0, 3)
        finally:
            feed.close()
        if tenant and out["complete"]:
            copies = _accepted_copies(s, len(ds.events))
            out["accepted_copies"], out["facts_records"] = copies["accepted"], copies["records"]
    if not out["complete"]:
        raise RuntimeError(f"security streams ({tag}): cut short, not every availability came out in "
                           f"{sizes.max_wait_s:.0f} s")
    return out


_TAGS = {"with": "s", "without": "p", "tenant": "t"}
_SAID = {"with": "with SASL+ACLs", "without": "without SASL+ACLs", "tenant": "a tenant's facts (SASL+ACLs)"}
_STREAMS_KEYS = ("eps", "seconds", "cpu_seconds", "eps_per_cpu_s", "broker_cpu_seconds")


def _streams(bench: Bench, plain: KafkaSettings, ds: Dataset, sizes: Any) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in STREAMS_SIDES}
    for i in range(sizes.security_streams_rounds):
        for side in STREAMS_SIDES if i % 2 == 0 else STREAMS_SIDES[::-1]:
            got = _streams_side(bench, ds, sizes, side, f"sec{_TAGS[side]}{i}", plain)
            runs[side].append({k: got[k] for k in ("events", "processed_events", *_STREAMS_KEYS,
                                                   "accepted_copies", "facts_records") if k in got})
            accepted = f", {got['accepted_copies']:,} accepted copies" if "accepted_copies" in got else ""
            bench.say(f"security streams {_SAID[side]}: {got['eps']:,.0f} events/s, "
                      f"{got['eps_per_cpu_s'] or 0:,.0f} per worker CPU-s{accepted}")
    out = _summary(runs, _STREAMS_KEYS)
    out["events"], out["rounds"] = len(ds.events), sizes.security_streams_rounds
    copies = [r["accepted_copies"] for r in runs["tenant"]]
    out["tenant_accepted_copies"] = copies
    out["tenant_all_accepted"] = all(c == len(ds.events) for c in copies)
    return out


def measure_security(bench: Bench, datasets: Callable[[int, int], Dataset], sizes: Any) -> dict[str, Any]:
    """Produce, connect and streams with and without SASL + ACLs (streams also on a vendor
    tenant's facts); then revocation."""
    plain = plaintext_kafka(bench.base)
    if plain is None:
        raise RuntimeError("the security part needs the bench's own stack (its broker has a PLAINTEXT "
                           "listener to compare with): run it without --use-env-stack")
    ds = datasets(sizes.perfs, sizes.events)
    s = bench.fresh("sec")
    produce = _produce(bench, s, plain, ds, sizes.ceiling_events, sizes.security_rounds)
    streams = _streams(bench, plain, ds, sizes)
    value = ds.wire(schema_id(bench.registry, topic_name(TICKET_EVENTS, s.topic_prefix), "ticket_event.avsc"),
                    ds.event_bodies[:1])[0]
    revocation = measure_revocation(s, make_admin(s.kafka), value, sizes.revocations)
    bench.say(f"security revocation: refused produce after {revocation['produce_refused_s']} s, refused "
              f"login after {revocation['login_refused_s']} s; the other tenant lost "
              f"{revocation['other_tenant']['lost']} of {revocation['other_tenant']['acknowledged']}")
    return {"produce": produce, "connect_ms": produce.pop("connect_ms"), "streams": streams,
            "revocation": revocation}
