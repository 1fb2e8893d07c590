"""Reading and writing the tenant directory (``access.tenants``) on Kafka.

Every role that enforces tenancy reads the directory the same way: the bus's compacted
reader applies each record to a :class:`bus.tenants.TenantDirectory` (a bad record is
dead-lettered by the reader, never fatal). ``read_directory`` reads it to its end once
(commands); ``follow_directory`` keeps following it (long-running roles: a revocation
reaches them within a poll). Only ``cultuurbus tenant`` writes it (``write_tenant``).
"""

from __future__ import annotations

import threading

from bus.compacted import CompactedReader, Handler, Record
from bus.errors import RetriableError
from bus.kafka import make_producer
from bus.settings import KafkaSettings
from bus.tenants import Tenant, TenantDirectory
from bus.topics import TENANTS, topic_name

__all__ = ["follow_directory", "read_directory", "write_tenant"]

_READ_TIMEOUT_S = 60.0


def _handler(directory: TenantDirectory, lock: threading.Lock | None) -> Handler:
    def apply(rec: Record) -> str:
        if lock is None:
            directory.apply(rec.key, rec.value)
        else:
            with lock:
                directory.apply(rec.key, rec.value)
        return "tombstone" if rec.value is None else "applied"

    return Handler(TENANTS, lambda raw: raw, apply)


def follow_directory(kafka: KafkaSettings, topic_prefix: str, directory: TenantDirectory, *,
                     source: str, lock: threading.Lock | None = None) -> CompactedReader:
    """A started reader that applies every record of the directory to ``directory``.

    ``reader.wait_ready(timeout)`` tells when the directory was read to its end.
    """
    name = topic_name(TENANTS, topic_prefix)
    return CompactedReader(kafka, {name: _handler(directory, lock)}, source=source).start()


def read_directory(kafka: KafkaSettings, topic_prefix: str, *, source: str = "tenant-cli",
                   timeout: float = _READ_TIMEOUT_S) -> TenantDirectory:
    """The directory as it is now, read to its end.

    Raises:
        RetriableError: it could not be read within ``timeout`` (Kafka away, catalog not
            applied, or this principal may not read it).

    """
    directory = TenantDirectory()
    reader = follow_directory(kafka, topic_prefix, directory, source=source)
    try:
        if not reader.wait_ready(timeout):
            raise RetriableError(
                f"could not read the tenant directory {topic_name(TENANTS, topic_prefix)} within "
                f"{timeout:g} s ({reader.error or 'no end reached'}); is Kafka up, the catalog applied "
                "(`cultuurbus topics apply`), and may this principal read it?")
    finally:
        reader.close()
    return directory


def write_tenant(kafka: KafkaSettings, topic_prefix: str, tenant: Tenant,
                 timeout: float = 30.0) -> None:
    """Write one tenant's record and wait until Kafka acknowledged it (``acks=all``).

    Raises:
        RetriableError: Kafka did not acknowledge it within ``timeout``.

    """
    producer = make_producer(kafka)
    errors: list[str] = []

    def done(err: object, _msg: object) -> None:
        if err is not None:
            errors.append(str(err))

    producer.produce(topic_name(TENANTS, topic_prefix), key=tenant.name.encode(),
                     value=tenant.to_json(), on_delivery=done)
    left = producer.flush(timeout)
    if left or errors:
        raise RetriableError(f"writing tenant {tenant.name} to the directory failed: "
                             f"{'; '.join(errors) or 'not acknowledged in time'}; nothing changed "
                             "for this tenant's record, run the command again")
