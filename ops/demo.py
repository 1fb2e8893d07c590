"""``cultuurbus demo``: the local stack, the contract and real Avro events through Kafka.

Later issues grow this into the whole pipeline; for now it shows the foundation working:
stack up, schemas registered, topics applied, a performance and a handful of ticket
facts produced with the project's serde, then consumed back in a consumer group.
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import timedelta

import click

from bus.kafka import make_admin, make_consumer, make_producer
from bus.serde import AvroDeserializer, AvroSerializer, Registry
from bus.settings import Settings
from bus.topics import PERFORMANCES, TICKET_EVENTS, apply_catalog
from ops.stack.manager import StackManager
from ops.stack.settings import StackSettings
from schemas import load_schema
from schemas.models import (
    Identifier,
    Performance,
    TicketEvent,
    TicketEventType,
    TicketType,
    Venue,
    utcnow,
)

__all__ = ["run_demo", "settings_for_stack"]


def settings_for_stack(settings: Settings, stack: StackSettings) -> Settings:
    """The bus settings pointed at the local stack's addresses."""
    return settings.model_copy(update={
        "kafka": settings.kafka.model_copy(update={"bootstrap_servers": stack.kafka_bootstrap}),
        "registry": settings.registry.model_copy(update={"url": stack.registry_url}),
        "clickhouse": settings.clickhouse.model_copy(update={"url": stack.clickhouse_url}),
    })


def _sample(n: int, seed: int = 7) -> tuple[Performance, list[TicketEvent]]:
    rnd = random.Random(seed)
    now = utcnow()
    vendor = Identifier.vendor("eventix", "demo", "ev-1001")
    key = vendor.key
    ids = [vendor, Identifier.dip("NL-23-1234-5", 1)]
    perf = Performance(
        fact_id=f"demo:perf:{uuid.uuid4()}", event_time=now, ingested_at=now,
        source_system="eventix", source_account="demo", performance_key=key, identifiers=ids,
        production_id="NL-23-1234-5", title="De Gebroeders Karamazov", genre="toneel",
        venue=Venue(id="dip-theater-42", name="Stadsschouwburg Utrecht", city="Utrecht",
                    postcode="3511 EH", country="NL", region="Utrecht"),
        hall="Grote zaal", start=now + timedelta(days=1), capacity=120,
    )
    events = []
    for i in range(n):
        ticket_type = rnd.choice(list(TicketType))
        kind = rnd.choices([TicketEventType.SOLD, TicketEventType.REFUNDED,
                            TicketEventType.RESERVED], weights=[8, 1, 1])[0]
        events.append(TicketEvent(
            fact_id=f"demo:{uuid.uuid4()}", event_type=kind, event_time=now, ingested_at=now,
            source_system="eventix", source_account="demo", performance_key=key,
            identifiers=ids, quantity=rnd.randint(1, 4),
            ticket_type=ticket_type,
            price_cents=0 if ticket_type is TicketType.FREE else rnd.choice([1500, 2450, 3200]),
            order_id=f"ord-{i}", channel="web",
        ))
    return perf, events


def run_demo(settings: Settings, events: int = 20, keep_stack: bool = True) -> None:
    stack_settings = StackSettings()
    manager = StackManager(stack_settings)
    click.secho("1/4 local stack", bold=True)
    t0 = time.monotonic()
    manager.up()
    click.echo(f"    up in {time.monotonic() - t0:.1f}s")
    for s in manager.status():
        click.echo(f"    {s.name:11} {s.version:10} {s.address:40} "
                   f"{'healthy' if s.healthy else 'DOWN'}")
    settings = settings_for_stack(settings, stack_settings)
    try:
        click.secho("2/4 topics and schemas", bold=True)
        admin = make_admin(settings.kafka)
        changes = apply_catalog(admin, settings.topic_prefix, settings.kafka.replication_factor)
        click.echo(f"    {sum(c.action == 'created' for c in changes)} topics created, "
                   f"{len(changes)} in the catalog")
        registry = Registry(settings.registry)
        topic_ev = settings.topic_prefix + TICKET_EVENTS
        topic_perf = settings.topic_prefix + PERFORMANCES
        ser_ev = AvroSerializer(registry, topic_ev, "ticket_event.avsc")
        ser_perf = AvroSerializer(registry, topic_perf, "performance.avsc")
        click.echo(f"    {ser_ev.subject} id={ser_ev.schema_id}; "
                   f"{ser_perf.subject} id={ser_perf.schema_id}")

        click.secho(f"3/4 producing 1 performance and {events} ticket facts", bold=True)
        perf, facts = _sample(events)
        producer = make_producer(settings.kafka)
        acked: list[tuple[int, int]] = []

        def on_delivery(err, msg) -> None:  # type: ignore[no-untyped-def]
            if err is None:
                acked.append((msg.partition(), msg.offset()))
            else:
                click.echo(f"    delivery failed: {err}", err=True)

        producer.produce(topic_perf, key=perf.performance_key, value=ser_perf(perf),
                         on_delivery=on_delivery)
        for f in facts:
            producer.produce(topic_ev, key=f.performance_key, value=ser_ev(f),
                             on_delivery=on_delivery)
        producer.flush(30)
        click.echo(f"    {len(acked)}/{events + 1} acknowledged by Kafka (acks=all, idempotent)")

        click.secho("4/4 consuming them back in a consumer group", bold=True)
        group = f"cultuurbus-demo-{uuid.uuid4().hex[:8]}"
        consumer = make_consumer(settings.kafka, group)
        consumer.subscribe([topic_ev])
        de = AvroDeserializer(registry, load_schema("ticket_event.avsc"))
        wanted = {f.fact_id for f in facts}
        seen = 0
        deadline = time.monotonic() + 30
        try:
            while wanted and time.monotonic() < deadline:
                msg = consumer.poll(1.0)
                if msg is None:
                    continue
                if msg.error():
                    click.echo(f"    consumer error: {msg.error()}", err=True)
                    continue
                rec = de(msg.value())
                assert rec is not None
                if rec["fact_id"] in wanted:
                    wanted.discard(rec["fact_id"])
                    seen += 1
                    click.echo(f"    p{msg.partition()}@{msg.offset():<5} {rec['event_type']:11} "
                               f"x{rec['quantity']} {rec['ticket_type']:8} "
                               f"{rec['price_cents'] / 100:6.2f} {rec['currency']} "
                               f"{rec['performance_key']}")
                consumer.store_offsets(msg)
            consumer.commit(asynchronous=False)
        finally:
            consumer.close()
        net = sum(f.quantity if f.event_type is TicketEventType.SOLD else
                  -f.quantity if f.event_type is TicketEventType.REFUNDED else 0 for f in facts)
        click.secho(f"done: {seen}/{events} facts read back through Kafka in group {group}; "
                    f"net tickets sold for '{perf.title}': {net}",
                    fg="green" if seen == events else "red")
        if seen != events:
            raise SystemExit(1)
    finally:
        if not keep_stack:
            manager.down()
        else:
            click.echo("stack left running: `cultuurbus stack status`, `cultuurbus stack down`")
