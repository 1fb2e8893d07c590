"""Peer: the availability job written the idiomatic Quix Streams way.

An ``Application`` with two topics (calendar and ticket facts, Confluent-wire Avro read
with Quix's schema-registry ``AvroDeserializer``), concatenated into one
``StreamingDataFrame``; a stateful ``apply`` keeps each performance's counters and the
fact ids it applied in Quix's RocksDB state (with changelog topics, at least once), and
the changed availability goes to the output topic through Quix's registry-aware
``AvroSerializer``. Runs in its own virtualenv (``bench/.venv-quix``): Quix Streams pins
confluent-kafka and pydantic below the versions the bus uses.

Run: ``python -m bench.peers.quix_availability --bootstrap ... --registry ... --calendar T
--tickets T --output T --group G --state-dir D`` (SIGTERM ends it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from quixstreams import Application, State
from quixstreams.kafka.configuration import ConnectionConfig
from quixstreams.models.serializers.avro import AvroDeserializer, AvroSerializer
from quixstreams.models.serializers.schema_registry import (
    SchemaRegistryClientConfig,
    SchemaRegistrySerializationConfig,
)

from bench.peers.logic import apply, new_state, record
from bench.peers.login import peer_login, peer_registry_login

__all__ = ["application", "main"]

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "avro" / "availability.avsc"


def application(description: str, argv: list[str] | None,
                outputs: tuple[str, ...] = ()) -> tuple[argparse.Namespace, Application, Any]:
    """The peers' command line (``outputs``: more output topic options) and their Quix
    ``Application``, configured alike; returns the arguments, the app and the registry config."""
    p = argparse.ArgumentParser(description=description)
    for name in ("bootstrap", "registry", "calendar", "tickets", "output", *outputs, "group", "state-dir"):
        p.add_argument(f"--{name}", required=True)
    p.add_argument("--threshold", type=int, default=10)
    p.add_argument("--commit-interval", type=float, default=1.0)
    args = p.parse_args(argv)
    login = peer_login()
    broker = (ConnectionConfig.from_librdkafka_dict({"bootstrap.servers": args.bootstrap, **login})
              if login else args.bootstrap)
    app = Application(broker_address=broker, consumer_group=args.group, auto_offset_reset="earliest",
                      state_dir=args.state_dir, commit_interval=args.commit_interval, loglevel="WARNING",
                      consumer_extra_config={"fetch.wait.max.ms": 10},
                      producer_extra_config={"linger.ms": 5, "compression.type": "lz4",
                                             "partitioner": "murmur2_random"})
    return args, app, SchemaRegistryClientConfig(url=args.registry,
                                                 basic_auth_user_info=peer_registry_login())


def main(argv: list[str] | None = None) -> None:
    args, app, registry = application(__doc__ or "", argv)
    facts = AvroDeserializer(schema_registry_client_config=registry)
    calendar = app.topic(args.calendar, value_deserializer=facts)
    tickets = app.topic(args.tickets, value_deserializer=facts)
    output = app.topic(args.output, value_serializer=AvroSerializer(
        json.loads(SCHEMA.read_text()), schema_registry_client_config=registry,
        schema_registry_serialization_config=SchemaRegistrySerializationConfig(auto_register_schemas=True)))

    threshold = args.threshold

    def availability(fact: dict[str, Any], key: bytes, timestamp: int, headers: Any,
                     state: State) -> dict[str, Any] | None:
        marker = f"f:{fact['fact_id']}"
        if state.exists(marker):
            return None
        state.set(marker, 1)
        st = state.get("s") or new_state()
        if not apply(st, fact):
            return None
        state.set("s", st)
        return record(key.decode(), st, threshold)

    sdf = app.dataframe(calendar).concat(app.dataframe(tickets))
    sdf = sdf.apply(availability, stateful=True, metadata=True).filter(lambda rec: rec is not None)
    sdf.to_topic(output)
    app.run()


if __name__ == "__main__":
    main()
