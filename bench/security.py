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
  dataset's calendar and ticket facts on fresh topics each.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from bench.data import Dataset
from bench.env import Bench, broker_pid, plaintext_kafka
from bench.feed import Feed
from bench.kafkaio import produce_all, schema_id
from bench.revocation import measure_revocation, vendor
from bench.roles import cpu_seconds, running
from bus.kafka import kafka_env, make_admin, make_producer
from bus.settings import KafkaSettings, Settings
from bus.topics import TICKET_EVENTS, topic_name

__all__ = ["measure_security"]

SIDES = ("with", "without")


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
    """Median of each ``key`` per side, and the ratios with / without."""
    out: dict[str, Any] = {side: {k: _median(runs[side], k) for k in keys} for side in SIDES}
    for k in ("eps", "eps_per_cpu_s"):
        a, b = out["with"].get(k), out["without"].get(k)
        out[f"ratio_{k}"] = float(f"{a / b:.4g}") if a and b else None
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


def _streams_side(bench: Bench, ds: Dataset, sizes: Any, tag: str, plain: KafkaSettings | None
                  ) -> dict[str, Any]:
    """The dataset through a fresh worker on fresh topics; SASL as ``cultuurbus-streams`` or,
    with ``plain``, the worker and the feed on the PLAINTEXT listener."""
    s = bench.fresh(tag)
    extra = kafka_env(plain) if plain is not None else {}
    worker = bench.worker(s, tag, **extra)
    fed = s if plain is None else s.model_copy(update={"kafka": plain})
    with running(worker, timeout=120):
        feed = Feed(fed, ds, bench.registry, cap_s=sizes.max_wait_s)
        try:
            feed.calendar((worker,))
            broker0 = _broker_cpu()
            out = feed.tickets((worker,))
            out["broker_cpu_seconds"] = round(_broker_cpu() - broker0, 3)
        finally:
            feed.close()
    if not out["complete"]:
        raise RuntimeError(f"security streams ({tag}): cut short, not every availability came out in "
                           f"{sizes.max_wait_s:.0f} s")
    return out


_STREAMS_KEYS = ("eps", "seconds", "cpu_seconds", "eps_per_cpu_s", "broker_cpu_seconds")


def _streams(bench: Bench, plain: KafkaSettings, ds: Dataset, sizes: Any) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    for i in range(sizes.security_streams_rounds):
        for side in SIDES if i % 2 == 0 else SIDES[::-1]:
            with_sasl = side == "with"
            got = _streams_side(bench, ds, sizes, f"sec{'s' if with_sasl else 'p'}{i}",
                                None if with_sasl else plain)
            runs[side].append({k: got[k] for k in ("events", "processed_events", *_STREAMS_KEYS)})
            bench.say(f"security streams {side} SASL+ACLs: {got['eps']:,.0f} events/s, "
                      f"{got['eps_per_cpu_s'] or 0:,.0f} per worker CPU-s")
    out = _summary(runs, _STREAMS_KEYS)
    out["events"], out["rounds"] = len(ds.events), sizes.security_streams_rounds
    return out


def measure_security(bench: Bench, datasets: Callable[[int, int], Dataset], sizes: Any) -> dict[str, Any]:
    """Produce, connect and streams with and without SASL + ACLs; then revocation."""
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
