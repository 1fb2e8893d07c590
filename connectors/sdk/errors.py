"""Errors of the connector SDK (``MappingError`` is the bus's, shared with the sink)."""

from __future__ import annotations

from bus.errors import MappingError, RetriableError

__all__ = ["MappingError", "Retry", "SourceUnavailable"]


class Retry(RetriableError):  # noqa: N818 - named for what the caller does (Bytewax style)
    """Raised by a polling source instead of sleeping: call again after ``retry_after``."""


class SourceUnavailable(RetriableError):
    """The vendor system did not answer; back off and try again."""
