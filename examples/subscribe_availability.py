"""Subscribe to live seat availability directly on Kafka and print every change.

Run from the repository after ``make install``::

    .venv/bin/python examples/subscribe_availability.py --group my-app

Settings come from ``CULTUURBUS_*`` environment variables or ``cultuurbus.toml``
(``kafka``, ``registry``, ``topic_prefix``), as for every cultuurbus role. See
docs/subscribe-example.md for what the topic promises.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from typing import Any

from confluent_kafka import KafkaError

from bus.errors import BusError
from bus.kafka import make_consumer
from bus.serde import AvroDeserializer, Registry
from bus.settings import load_settings
from bus.topics import AVAILABILITY


def describe(key: str, rec: dict[str, Any] | None) -> str:
    """One line per change; ``rec`` None is a tombstone (the performance was removed)."""
    if rec is None:
        return f"{key}  removed"
    seats = "capacity unknown" if rec["remaining"] is None else f"{rec['remaining']}/{rec['capacity']} left"
    start = rec["start"].isoformat() if rec.get("start") else "?"
    return (f"{key}  {rec['status']:<9} {seats:<16} v{rec['version']}  "
            f"{rec.get('title') or ''} @ {rec.get('venue_name') or ''}, {rec.get('city') or ''}  {start}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--group", default="example-availability-printer",
                   help="Consumer group: committed offsets let a restart continue where it stopped.")
    p.add_argument("--latest", action="store_true",
                   help="A new group starts at the end (only new changes) instead of the beginning "
                        "(the full current state of the compacted topic first).")
    p.add_argument("--max-messages", type=int, default=0, help="Stop after this many (0: run until Ctrl-C).")
    p.add_argument("--idle-exit", type=float, default=0.0,
                   help="Stop after this many seconds without a message (0: never).")
    args = p.parse_args(argv)

    settings = load_settings()
    topic = settings.topic_prefix + AVAILABILITY
    decode = AvroDeserializer(Registry(settings.registry), "availability.avsc")
    consumer = make_consumer(settings.kafka, args.group,
                             auto_offset_reset="latest" if args.latest else "earliest")
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    seen = 0
    last_message = time.monotonic()
    try:
        consumer.subscribe([topic])
        print(f"subscribed to {topic} as group {args.group}", file=sys.stderr, flush=True)
        while not stopping:
            msg = consumer.poll(0.5)
            if msg is None:
                if args.idle_exit and time.monotonic() - last_message > args.idle_exit:
                    break
                continue
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    print(f"consumer error: {err}", file=sys.stderr, flush=True)
                continue
            last_message = time.monotonic()
            key = (msg.key() or b"").decode()
            try:
                rec = decode(msg.value())
            except BusError as exc:
                # An app decides what a bad record means for it; here: say so and move on.
                print(f"{key}  undecodable at {msg.partition()}:{msg.offset()}: {exc}",
                      file=sys.stderr, flush=True)
            else:
                print(describe(key, rec), flush=True)
            consumer.store_offsets(msg)  # only after the record was handled
            seen += 1
            if args.max_messages and seen >= args.max_messages:
                break
    finally:
        try:
            consumer.commit(asynchronous=False)
        except Exception as exc:  # nothing stored yet (e.g. stopped before the first record)
            print(f"no offsets committed: {exc}", file=sys.stderr)
        consumer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
