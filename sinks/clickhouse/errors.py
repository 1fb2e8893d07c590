"""Errors of the ClickHouse sink; all are ``BusError`` subclasses."""

from __future__ import annotations

from bus.errors import BusError

__all__ = ["MappingError", "MigrationError", "SinkError"]


class SinkError(BusError):
    """Root of the errors the ClickHouse sink raises on purpose."""


class MigrationError(SinkError):
    """The database schema and the migration files disagree; the message says how to fix it."""


class MappingError(SinkError):
    """A decoded record cannot become a row (it goes to the dead-letter topic).

    Args:
        message: what is wrong, naming the field.
        field: the offending field, when there is one.

    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
