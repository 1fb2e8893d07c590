"""The runtime alone: read ``--count`` records of one topic and do nothing (or only decode),
timed by this process's own first and last record and its CPU time.

Modes:

- ``faust_iterate``: an empty Faust agent, ``async for value in stream`` and nothing else;
- ``faust_take``: the same agent taking the stream in batches the way our facts agent does
  (``stream.take_events(BATCH_MAX, within=TAKE_WITHIN_S)``: ``take_events`` needs a wait);
- ``faust_take_decode``: the batched agent plus a fastavro decode of each value;
- ``faust_drain_decode``: the same, batches taken from the agent's queue by
  ``streams.delivery.drain`` (as our agents do) instead of ``take_events``;
- ``plain_decode``: a plain confluent-kafka loop (the raw consume ceiling's consumer) that
  only decodes each value with fastavro.

The Faust app has our worker's settings and tuning (``streams.app.create_app``'s
``faust.App`` arguments, ``streams.tuning.tune``, the worker class of ``streams.worker``:
quiet monitor, fetch tuning, ``gc.freeze`` after start-up) and no tables. Settings (Kafka)
come from the ``CULTUURBUS_*`` environment, as every role's do.

The result (JSON) is written to ``--out`` once ``--count`` records were seen; the process
then idles until SIGTERM. Timing starts at the first record (start-up and the group join
are not the runtime's throughput) and counts the records after the first delivery:
``eps = (count - first) / (t_last - t_first)``; ``eps_per_cpu_s`` divides the same
records by the process's user + system CPU seconds (every thread) over that interval.

Run: ``python -m bench.peers.faust_empty --mode faust_take --topic T --count N --out F``.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import resource
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import fastavro

from schemas import load_schema

__all__ = ["MODES", "main"]

#: ``take_events``' wait to fill a batch (the worker's agents take what their queue holds,
#: ``streams.context.BATCH_WITHIN_S``; ``take_events`` reads a wait of 0 as "no limit").
TAKE_WITHIN_S = 0.005
MODES = ("faust_iterate", "faust_take", "faust_take_decode", "faust_drain_decode", "plain_decode")


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _rss_mb() -> float:
    """Peak RSS (VmHWM) of this process; ru_maxrss would carry the parent's over exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Meter:
    """Counts records; writes the result file once ``count`` were seen."""

    def __init__(self, count: int, out: Path, mode: str, started: float) -> None:
        self.count, self.out, self.mode, self.started = count, out, mode, started
        self.n = 0
        self.first_n = 0
        self.t_first = self.cpu_first = 0.0
        self.done = False

    def tick(self, k: int) -> None:
        if self.n == 0:
            self.t_first, self.cpu_first, self.first_n = time.perf_counter(), _cpu(), k
        self.n += k
        if self.n >= self.count and not self.done:
            self.done = True
            seconds = max(time.perf_counter() - self.t_first, 1e-6)
            cpu = max(_cpu() - self.cpu_first, 1e-6)
            counted = self.n - self.first_n
            doc = {"mode": self.mode, "records": self.n, "timed_records": counted,
                   "seconds": round(seconds, 3), "cpu_s": round(cpu, 3), "eps": counted / seconds,
                   "eps_per_cpu_s": counted / cpu, "cpu_share": round(cpu / seconds, 3),
                   "ready_s": round(self.t_first - self.started, 2), "rss_mb": round(_rss_mb(), 1)}
            tmp = self.out.with_suffix(".tmp")
            tmp.write_text(json.dumps(doc))
            tmp.replace(self.out)


def _decoder() -> Any:
    parsed = fastavro.parse_schema(load_schema("ticket_event.avsc"))
    reader = fastavro.schemaless_reader

    def decode(value: bytes) -> Any:  # Confluent wire format: 5-byte header, then the body
        return reader(io.BytesIO(value[5:]), parsed, None)

    return decode


def run_plain(topic: str, meter: Meter) -> None:
    from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition

    from bench.kafkaio import bench_consumer
    from bus.settings import load_settings

    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    decode = _decoder()
    # the raw consume ceiling's consumer (bench.ceilings), with a decode per record
    consumer = bench_consumer(load_settings(), fetch_wait_max_ms=100, fetch_max_bytes=52_428_800,
                              max_partition_fetch_bytes=10_485_760)
    parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    try:
        while not stopping:
            got = 0
            for msg in consumer.consume(1000, 0.5):
                err = msg.error()
                if err is not None:
                    if err.code() != KafkaError._PARTITION_EOF:
                        raise RuntimeError(f"consume: {err}")
                    continue
                decode(msg.value() or b"")
                got += 1
            if got:
                meter.tick(got)
    finally:
        consumer.close()


def run_faust(topic_name: str, meter: Meter, mode: str, app_id: str, web_port: int) -> None:
    import faust

    from bus.kafka import sasl_login
    from bus.settings import load_settings
    from bus.topics import PARTITIONS
    from streams import tuning
    from streams.app import PRODUCER_BATCH_BYTES
    from streams.context import BATCH_MAX, BATCH_WITHIN_S
    from streams.worker import _Worker

    settings = load_settings()
    datadir = Path(settings.streams.data_dir) / app_id
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(  # streams.app.create_app's arguments
        app_id, broker=f"kafka://{settings.kafka.bootstrap_servers}", store="rocksdb://",
        broker_credentials=(faust.SASLCredentials(username=login.username, password=login.password,
                                                  mechanism=login.mechanism)
                            if (login := sasl_login(settings.kafka)) else None),
        datadir=str(datadir), topic_partitions=PARTITIONS,
        topic_replication_factor=settings.kafka.replication_factor,
        processing_guarantee="at_least_once", broker_commit_interval=settings.streams.commit_interval_s,
        consumer_auto_offset_reset="earliest", producer_acks=-1,
        producer_max_batch_size=PRODUCER_BATCH_BYTES, producer_max_request_size=8 * PRODUCER_BATCH_BYTES,
        web_enabled=True, web_bind="127.0.0.1", web_host="127.0.0.1", web_port=web_port,
        table_standby_replicas=0, key_serializer="raw", value_serializer="raw", stream_wait_empty=False,
        Monitor=tuning.QuietMonitor)
    tuning.tune(app)
    topic = app.topic(topic_name, key_type=bytes, value_type=bytes, key_serializer="raw",
                      value_serializer="raw")
    decode = _decoder() if mode.endswith("_decode") else None

    if mode == "faust_drain_decode":
        from streams.delivery import drain

        @app.agent(topic, name="empty")
        async def empty_drained(stream: Any) -> None:
            async for events in drain(stream, BATCH_MAX, BATCH_WITHIN_S):
                for event in events:
                    decode(event.value)  # type: ignore[misc]
                meter.tick(len(events))
    elif mode == "faust_iterate":
        @app.agent(topic, name="empty")
        async def empty(stream: Any) -> None:
            async for _value in stream:
                meter.tick(1)
    else:
        @app.agent(topic, name="empty")
        async def empty_batched(stream: Any) -> None:
            async for events in stream.take_events(BATCH_MAX, within=TAKE_WITHIN_S):
                if decode is not None:
                    for event in events:
                        decode(event.value)
                meter.tick(len(events))

    logging.getLogger("faust").setLevel("WARNING")
    _Worker(app, loglevel="warning", quiet=True).execute_from_commandline()


def main(argv: list[str] | None = None) -> None:
    started = time.perf_counter()
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--mode", choices=MODES, required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--app-id", default=f"bench-wall-{uuid.uuid4().hex[:8]}")
    p.add_argument("--web-port", type=int, default=0)
    args = p.parse_args(argv)
    meter = Meter(args.count, args.out, args.mode, started)
    if args.mode == "plain_decode":
        run_plain(args.topic, meter)
    else:
        run_faust(args.topic, meter, args.mode, args.app_id, args.web_port or 6066 + os.getpid() % 1000)


if __name__ == "__main__":
    main()
