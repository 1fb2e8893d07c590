"""The latency floor of the worker's hops on this machine: what two forwarding hops and
a subscriber cost when the forwarder does no work at all.

The streams worker takes a ticket fact through two hops (the identity agent re-keys it
to ``participation.facts``, the facts agent publishes availability) before a subscriber
reads it. Here a forwarder in a process of its own does the same with nothing in
between: it reads the ticket topic and the re-keyed topic and writes each record on
(ticket -> re-keyed -> availability topic, same key), and a subscriber in this process
notes each record's latency from the send time it carries. Two forwarders, one after the
other on fresh topics: one on confluent-kafka (librdkafka) and one on aiokafka with the
worker's fetch settings (``streams.tuning``: the broker answers at 256 KiB or after
``FETCH_MAX_WAIT_MS``), the client Faust runs on. Their p99 is what the two hops and the
subscriber's read cost on this broker and machine before any work is done in them.

Run on its own (not part of ``python -m bench``)::

    python -m bench.hop_floor --rate 400 --seconds 20
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import struct
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from confluent_kafka import TopicPartition

from bench.ab import run_ab
from bench.env import Bench
from bench.kafkaio import bench_consumer, high_watermark
from bench.latency import percentiles
from bus.kafka import make_consumer, make_producer, sasl_login
from bus.settings import Settings
from bus.topics import AVAILABILITY, FACTS, TICKET_EVENTS, topic_name
from streams.tuning import FETCH_MAX_WAIT_MS, FETCH_MIN_BYTES

__all__ = ["measure_hop_floor"]

_SENT = struct.Struct(">d")  # a record's send time (epoch s), then padding to a fact's size
_PAD = b"x" * 400


def _forward_plain(s: Settings, topics: tuple[str, str, str], stop: Any) -> None:
    """confluent-kafka: ticket -> re-keyed -> availability, each record as it comes."""
    first, second, third = topics
    consumer = make_consumer(s.kafka, f"hop-{uuid.uuid4().hex[:8]}", fetch_wait_max_ms=FETCH_MAX_WAIT_MS,
                             auto_offset_reset="latest")
    producer = make_producer(s.kafka, linger_ms=0)
    onward = {first: second, second: third}
    consumer.subscribe([first, second])
    while not stop.is_set():
        msg = consumer.poll(0.1)
        if msg is None:
            continue
        for m in [msg, *consumer.consume(1000, 0)]:
            if m.error() is None:
                producer.produce(onward[m.topic() or ""], m.value(), m.key())
        producer.poll(0)
    producer.flush(10)
    consumer.close()


def _forward_aiokafka(s: Settings, topics: tuple[str, str, str], stop: Any) -> None:
    """aiokafka with the worker's fetch settings: the same hops, a batch at a time."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    first, second, third = topics
    login = sasl_login(s.kafka)
    auth: dict[str, Any] = {} if login is None else {
        "security_protocol": s.kafka.security_protocol, "sasl_mechanism": login.mechanism,
        "sasl_plain_username": login.username, "sasl_plain_password": login.password}

    async def run() -> None:
        consumer = AIOKafkaConsumer(first, second, bootstrap_servers=s.kafka.bootstrap_servers,
                                    group_id=f"hop-{uuid.uuid4().hex[:8]}", auto_offset_reset="latest",
                                    enable_auto_commit=False, fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
                                    fetch_min_bytes=FETCH_MIN_BYTES, **auth)
        producer = AIOKafkaProducer(bootstrap_servers=s.kafka.bootstrap_servers, acks="all",
                                    enable_idempotence=True, linger_ms=0, **auth)
        await consumer.start()
        await producer.start()
        onward = {first: second, second: third}
        try:
            while not stop.is_set():
                got = await consumer.getmany(timeout_ms=100, max_records=1000)
                for tp, msgs in got.items():
                    for m in msgs:
                        await producer.send(onward[tp.topic], m.value, m.key)  # handed on, not awaited
        finally:
            await producer.stop()
            await consumer.stop()

    asyncio.run(run())


_FORWARDERS: dict[str, Callable[[Settings, tuple[str, str, str], Any], None]] = {
    "confluent-kafka": _forward_plain, "aiokafka": _forward_aiokafka}


def _one(bench: Bench, name: str, rate: int, seconds: float, warmup_s: float) -> dict[str, Any]:
    s = bench.fresh(f"hop{name.split('-')[0]}")
    topics = tuple(topic_name(t, s.topic_prefix) for t in (TICKET_EVENTS, FACTS, AVAILABILITY))
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    proc = ctx.Process(target=_FORWARDERS[name], args=(s, topics, stop), name=f"forwarder-{name}")
    proc.start()
    reader = bench_consumer(s, fetch_wait_max_ms=5)
    last = topics[2]
    parts = reader.list_topics(last, timeout=10).topics[last].partitions
    reader.assign([TopicPartition(last, p, high_watermark(reader, last, p)) for p in parts])
    seen: list[tuple[float, float]] = []  # (send time, latency ms)
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            for m in reader.consume(1000, 0.002):
                value = m.value()
                if m.error() is None and value is not None:
                    now = time.time()
                    sent = _SENT.unpack_from(value)[0]
                    seen.append((sent, 1000 * (now - sent)))

    thread = threading.Thread(target=read, name="hop-reader", daemon=True)
    thread.start()
    producer = make_producer(s.kafka, linger_ms=1)
    keys = [f"perf-{i:04d}".encode() for i in range(1000)]

    def paced(secs: float) -> float:
        t0, n, sent = time.time(), int(rate * secs), 0
        while sent < n:
            due = min(n, int((time.time() - t0) * rate) + 1)
            while sent < due:
                producer.produce(topics[0], _SENT.pack(time.time()) + _PAD, keys[sent % len(keys)])
                sent += 1
            producer.poll(0)
            time.sleep(0.002)
        producer.flush(30)
        return t0

    try:
        paced(warmup_s)  # the forwarder joins its group and the broker warms up meanwhile
        t0 = paced(seconds)
        time.sleep(3)
    finally:
        done.set()
        thread.join(10)
        reader.close()
        stop.set()
        proc.join(30)
    got = percentiles([lat for sent, lat in seen if sent >= t0])
    got["sent"] = int(rate * seconds)
    return got


def measure_hop_floor(bench: Bench, rate: int, seconds: float, warmup_s: float, say: Any = print
                      ) -> dict[str, Any]:
    """Each forwarder once: p50 / p95 / p99 / max (ms) from send to the subscriber."""
    out: dict[str, Any] = {"rate": rate, "seconds": seconds, "fetch_max_wait_ms": FETCH_MAX_WAIT_MS}
    for name in _FORWARDERS:
        out[name] = _one(bench, name, rate, seconds, warmup_s)
        say(f"{name}: " + json.dumps(out[name]))
    return out


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--rate", default=400, show_default=True, help="Records per second sent.")
@click.option("--seconds", default=20.0, show_default=True, help="How long the counted load lasts.")
@click.option("--warmup", default=15.0, show_default=True, help="Seconds of the same load before it.")
@click.option("--out", type=click.Path(path_type=Path), help="Also write the result here (JSON).")
def main(rate: int, seconds: float, warmup: float, out: Path | None) -> None:
    """The latency floor of two forwarding hops and a subscriber, on a fresh bench stack."""
    run_ab("hop-floor-", lambda bench: measure_hop_floor(bench, rate, seconds, warmup), out)


if __name__ == "__main__":
    main()
