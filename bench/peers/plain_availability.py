"""Peer: the availability job as a plain confluent-kafka consumer loop and a dict.

Reads the calendar and ticket topics, decodes Confluent-wire Avro with fastavro (writer
schemas from the registry, cached by id), keeps state and applied fact ids in memory,
publishes one Availability record per changed performance per consumed batch, and
commits offsets after the producer has flushed (at least once; the in-memory state is
not durable: a restart recomputes from the committed offsets only if the group is new).

Run: ``python -m bench.peers.plain_availability --bootstrap ... --registry ... --calendar T
--tickets T --output T --group G`` (SIGTERM ends it).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import signal
import struct
import time
from pathlib import Path
from typing import Any

import fastavro
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from bench.peers.logic import apply, new_state, record
from bench.peers.login import peer_login, peer_registry_login

__all__ = ["main"]

log = logging.getLogger("bench.peers.plain")
_HEADER = struct.Struct(">bI")
SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "avro" / "availability.avsc"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    for name in ("bootstrap", "registry", "calendar", "tickets", "output", "group"):
        p.add_argument(f"--{name}", required=True)
    p.add_argument("--threshold", type=int, default=10)
    args = p.parse_args(argv)

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    user_info = peer_registry_login()
    registry = SchemaRegistryClient({"url": args.registry,
                                     **({"basic.auth.user.info": user_info} if user_info else {})})
    writers: dict[int, Any] = {}
    out_schema = json.loads(SCHEMA.read_text())
    out_id = registry.register_schema(f"{args.output}-value", Schema(json.dumps(out_schema), "AVRO"))
    out_parsed = fastavro.parse_schema(out_schema)
    out_header = _HEADER.pack(0, out_id)

    login = peer_login()
    consumer = Consumer({**login, "bootstrap.servers": args.bootstrap, "group.id": args.group,
                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "fetch.wait.max.ms": 10})
    producer = Producer({**login, "bootstrap.servers": args.bootstrap, "enable.idempotence": True,
                         "acks": "all",
                         "linger.ms": 5, "compression.type": "lz4", "partitioner": "murmur2_random"})
    consumer.subscribe([args.calendar, args.tickets])
    states: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    last_commit = time.monotonic()
    try:
        while not stopping:
            msgs = consumer.consume(500, 0.1)
            changed: dict[str, dict[str, Any]] = {}
            for msg in msgs:
                err = msg.error()
                if err is not None:
                    if err.code() != KafkaError._PARTITION_EOF:
                        log.warning("consumer error: %s", err)
                    continue
                value = msg.value()
                if not value:
                    continue
                _, sid = _HEADER.unpack_from(value)
                writer = writers.get(sid)
                if writer is None:
                    writer = writers[sid] = fastavro.parse_schema(
                        json.loads(registry.get_schema(sid).schema_str or "{}"))
                fact: dict[str, Any] = fastavro.schemaless_reader(  # type: ignore[assignment]
                    io.BytesIO(value[5:]), writer, None)
                if fact["fact_id"] in seen:
                    continue
                seen.add(fact["fact_id"])
                pid = (msg.key() or b"").decode()
                st = states.get(pid)
                if st is None:
                    st = states[pid] = new_state()
                if apply(st, fact):
                    changed[pid] = st
            for pid, st in changed.items():
                buf = io.BytesIO()
                buf.write(out_header)
                fastavro.schemaless_writer(buf, out_parsed, record(pid, st, args.threshold))
                while True:
                    try:
                        producer.produce(args.output, buf.getvalue(), pid.encode())
                        break
                    except BufferError:
                        producer.poll(0.05)
            producer.poll(0)
            if msgs and time.monotonic() - last_commit > 1.0:
                producer.flush(30)
                consumer.commit(asynchronous=True)
                last_commit = time.monotonic()
    finally:
        producer.flush(30)
        consumer.close()


if __name__ == "__main__":
    main()
