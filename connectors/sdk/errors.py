"""Errors of the connector SDK."""

from __future__ import annotations

from bus.errors import BusError, RetriableError

__all__ = ["MappingError", "Retry", "SourceUnavailable"]


class MappingError(BusError):
    """A source record cannot be turned into a contract fact; it goes to the DLQ.

    Args:
        message: what was wrong and where (field path), for the DLQ header and the
            HTTP 4xx answer.
        field: the offending field path, when known.

    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Retry(RetriableError):  # noqa: N818 - named for what the caller does (Bytewax style)
    """Raised by a polling source instead of sleeping: call again after ``retry_after``."""


class SourceUnavailable(RetriableError):
    """The vendor system did not answer; back off and try again."""
