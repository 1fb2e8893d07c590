"""How soon ``tenant revoke`` takes effect (issue #15: "revocation takes effect within
seconds and loses none of the other tenants' data"), measured from the outside.

A vendor tenant keeps producing to its ingest topic (one record about every 10 ms,
``acks=all``, the project's producer) while ``ops.tenants.service.revoke_tenant`` runs.
From the call's start we time:

- the first refused produce: TOPIC_AUTHORIZATION_FAILED in a record's delivery report, or
  raised by ``produce()`` once the client's metadata says the topic is denied (the ACLs
  are gone; the open, already authenticated connection is refused at its next request);
- the first refused new connection: a prober opens a fresh client with the tenant's
  login again and again, each sending one record, until the broker answers the SCRAM
  login with an authentication failure (the credential is gone).

A second tenant produces all along (every repeat); at the end every record it saw
acknowledged is looked for on its topic: none may be lost, and it may see no error.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from pydantic import SecretStr

from bench.kafkaio import bench_consumer
from bus.kafka import librdkafka_config, make_producer
from bus.settings import KafkaSettings, Settings
from bus.tenants import ingest_topic
from ops.tenants.service import Issued, add_tenant, revoke_tenant

__all__ = ["measure_revocation", "tenant_login", "vendor"]

_QUIET = logging.getLogger("bench.revocation.refused")  # the refused logins' librdkafka lines
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False
FAMILY = "ticketing.events"
VENUE = "dip-th-0012"  # a venue of the dataset (bench/data.py VENUES)


def vendor(s: Settings, admin: AdminClient, name: str) -> tuple[Issued, KafkaSettings, str]:
    """A new vendor tenant (``add_tenant``), its login once the broker takes it, and its
    ingest topic for ticket events."""
    issued = add_tenant(s, admin, "vendor", name, venues=[VENUE])
    login = tenant_login(s, issued)
    topic = ingest_topic(name, FAMILY, s.topic_prefix)
    deadline = time.monotonic() + 30
    while True:  # the credential is in the metadata log; the broker applies it shortly after
        try:
            Producer({**librdkafka_config(login), "logger": _QUIET}).list_topics(topic, timeout=5)
            return issued, login, topic
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def tenant_login(s: Settings, issued: Issued) -> KafkaSettings:
    """``s``'s broker address with the tenant's SCRAM login."""
    return s.kafka.model_copy(update={"client_id": issued.tenant.principal,
                                      "sasl_username": issued.tenant.principal,
                                      "sasl_password": SecretStr(issued.password)})


@dataclass
class Ticker:
    """A thread producing one record about every ``every`` seconds; keys ``<tag>-<n>``."""

    login: KafkaSettings
    topic: str
    value: bytes
    tag: str
    every: float = 0.01
    acked: set[bytes] = field(default_factory=set)
    errors: list[tuple[float, str]] = field(default_factory=list)
    refused_at: float | None = None  # monotonic time of the first TOPIC_AUTHORIZATION_FAILED
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Ticker:
        self._thread = threading.Thread(target=self._run, name=f"ticker-{self.tag}", daemon=True)
        self._thread.start()
        return self

    def _error(self, err: KafkaError) -> None:
        now = time.monotonic()
        self.errors.append((now, err.name()))
        if err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED and self.refused_at is None:
            self.refused_at = now

    def _delivered(self, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self.acked.add(msg.key() or b"")
        else:
            self._error(err)

    def _run(self) -> None:
        producer = make_producer(self.login, message_timeout_ms=15_000)
        n, next_at = 0, time.monotonic()
        while not self._stop.is_set():
            key = f"{self.tag}-{n}".encode()
            try:  # refused in a delivery report, or by produce() once the client knows the topic is denied
                producer.produce(self.topic, self.value, key, on_delivery=self._delivered)
            except KafkaException as exc:
                self._error(exc.args[0])
            n += 1
            next_at += self.every
            producer.poll(max(0.0, next_at - time.monotonic()))
        producer.flush(20)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)


def _login_refused(login: KafkaSettings, topic: str, until: float) -> tuple[float | None, int]:
    """Open fresh clients with ``login``, one after another, until one is refused at login;
    (monotonic time the refusal arrived, attempts made). Each client sends one record so it
    connects; an accepted login ends with that record delivered or refused by an ACL."""
    attempts = 0
    while time.monotonic() < until:
        attempts += 1
        auth: list[float] = []
        done: list[bool] = []

        def on_error(err: KafkaError, auth: list[float] = auth) -> None:
            if err.code() == KafkaError._AUTHENTICATION:
                auth.append(time.monotonic())

        producer = Producer({**librdkafka_config(login, linger_ms=0, message_timeout_ms=5000),
                             "error_cb": on_error, "logger": _QUIET})
        def on_delivery(_err: KafkaError | None, _msg: Message, done: list[bool] = done) -> None:
            done.append(True)

        producer.produce(topic, b"probe", b"probe", on_delivery=on_delivery)
        while not auth and not done and time.monotonic() < until:
            producer.poll(0.002)
        producer.purge()
        producer.flush(0)
        if auth:
            return auth[0], attempts
    return None, attempts


def _one(s: Settings, admin: AdminClient, name: str, value: bytes, wait_s: float) -> dict[str, Any]:
    issued, login, topic = vendor(s, admin, name)
    ticker = Ticker(login, topic, value, name).start()
    deadline = time.monotonic() + 30
    while len(ticker.acked) < 20 and time.monotonic() < deadline:  # producing steadily
        time.sleep(0.02)
    if len(ticker.acked) < 20:
        ticker.stop()
        raise RuntimeError(f"revocation: tenant {name} got {len(ticker.acked)} records acknowledged in 30 s "
                           f"before the revoke (errors: {ticker.errors[:3]})")
    refused: list[tuple[float | None, int]] = []
    t0 = time.monotonic()
    prober = threading.Thread(target=lambda: refused.append(_login_refused(login, topic, t0 + wait_s)),
                              daemon=True)
    prober.start()
    revoke_tenant(s, admin, issued.tenant.name)
    call_s = time.monotonic() - t0
    while ticker.refused_at is None and time.monotonic() < t0 + wait_s:
        time.sleep(0.005)
    prober.join(wait_s + 10)
    ticker.stop()
    login_at, attempts = refused[0] if refused else (None, 0)
    before = [e for at, e in ticker.errors if at < t0]
    kinds = sorted({e for _, e in ticker.errors})
    if ticker.refused_at is None or login_at is None or before:
        produce_s = None if ticker.refused_at is None else ticker.refused_at - t0
        login_s = None if login_at is None else login_at - t0
        raise RuntimeError(f"revocation of {name}: refused produce after {produce_s} s, refused login after "
                           f"{login_s} s (waited {wait_s:.0f} s); errors before the revoke: {before[:3]}; "
                           f"error kinds: {kinds}")
    return {"tenant": name, "revoke_call_s": round(call_s, 3),
            "produce_refused_s": round(ticker.refused_at - t0, 3),
            "login_refused_s": round(login_at - t0, 3), "login_attempts": attempts,
            "acked_before": len(ticker.acked), "error_kinds": kinds}


def _missing(s: Settings, topic: str, acked: set[bytes], wait_s: float = 60.0) -> set[bytes]:
    """Acknowledged keys not found on ``topic`` (read from the start, as the bench's admin)."""
    consumer = bench_consumer(s)
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        left = set(acked)
        deadline = time.monotonic() + wait_s
        while left and time.monotonic() < deadline:
            for msg in consumer.consume(10_000, 0.5):
                if msg.error() is None:
                    left.discard(msg.key() or b"")
        return left
    finally:
        consumer.close()


def measure_revocation(s: Settings, admin: AdminClient, value: bytes, repeats: int,
                       wait_s: float = 30.0) -> dict[str, Any]:
    """``repeats`` revocations under load, and whether the tenant that stayed lost anything.

    Args:
        s: the part's settings (admin login, a topic prefix with the catalog applied).
        admin: an admin client as the bench's super user.
        value: a ticket fact (wire format) every record carries.
        repeats: how many tenants are added and revoked.
        wait_s: the longest wait for either refusal.

    """
    tag = s.topic_prefix.strip(".")[-5:]
    _, keep_login, keep_topic = vendor(s, admin, f"keep-{tag}")
    keeper = Ticker(keep_login, keep_topic, value, "keep").start()
    try:
        runs = [_one(s, admin, f"gone{i}-{tag}", value, wait_s) for i in range(repeats)]
    finally:
        keeper.stop()
    lost = _missing(s, keep_topic, keeper.acked)
    produce = [r["produce_refused_s"] for r in runs]
    login = [r["login_refused_s"] for r in runs]
    return {"runs": runs, "produce_refused_s": produce, "login_refused_s": login,
            "max_produce_refused_s": max(produce), "max_login_refused_s": max(login),
            "revoke_call_s": [r["revoke_call_s"] for r in runs],
            "other_tenant": {"acknowledged": len(keeper.acked), "lost": len(lost),
                             "errors": len(keeper.errors),
                             "error_kinds": sorted({e for _, e in keeper.errors})}}
