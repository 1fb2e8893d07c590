"""Errors of the connector SDK."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

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

    @classmethod
    def from_validation(cls, exc: ValidationError, paths: Mapping[str, str] | None = None,
                        default: str = "body", what: str = "fact") -> MappingError:
        """A value the contract refused, naming the input field it came from.

        Args:
            exc: what pydantic said while building a contract model.
            paths: contract field -> the input path its value came from.
            default: the input path of contract fields not in ``paths``.
            what: what was being built, for the message.

        """
        first = exc.errors(include_url=False, include_input=False)[0]
        loc = ".".join(str(p) for p in first["loc"])
        head = str(first["loc"][0]) if first["loc"] else ""
        path = (paths or {}).get(head, default)
        return cls(f"{path} cannot become the {what}'s {loc or 'value'}: {first['msg']}", field=path)


class Retry(RetriableError):  # noqa: N818 - named for what the caller does (Bytewax style)
    """Raised by a polling source instead of sleeping: call again after ``retry_after``."""


class SourceUnavailable(RetriableError):
    """The vendor system did not answer; back off and try again."""
