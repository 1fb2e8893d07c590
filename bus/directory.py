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
from bus.kafka import produce_acked
from bus.settings import KafkaSettings
from bus.tenants import Tenant, TenantDirectory
from bus.topics import TENANTS, topic_name

__all__ = ["directory_handler", "follow_directory", "read_directory", "write_tenant"]

_READ_TIMEOUT_S = 60.0


def directory_handler(directory: TenantDirectory, lock: threading.Lock | None = None) -> Handler:
    """The compacted reader's handler of ``access.tenants``: each record applied to
    ``directory`` (under ``lock`` when given: another thread reads it)."""

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
    return CompactedReader(kafka, {name: directory_handler(directory, lock)}, source=source).start()


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
    error = produce_acked(kafka, topic_name(TENANTS, topic_prefix), tenant.name.encode(), tenant.to_json(),
                          timeout=timeout)
    if error:
        raise RetriableError(f"writing tenant {tenant.name} to the directory failed: {error}; "
                             "nothing changed for this tenant's record, run the command again")
