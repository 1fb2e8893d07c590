"""Errors of the ClickHouse sink; all are ``BusError`` subclasses."""

from __future__ import annotations

from bus.errors import BusError, MappingError

__all__ = ["MappingError", "MigrationError", "SinkError"]


class SinkError(BusError):
    """Root of the errors the ClickHouse sink raises on purpose."""


class MigrationError(SinkError):
    """The database schema and the migration files disagree; the message says how to fix it."""
