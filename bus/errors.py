"""One exception root for the bus; every message says what to do."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = [
    "BusError",
    "ConfigError",
    "DeliveryError",
    "MappingError",
    "RetriableError",
    "SchemaIncompatibleError",
    "SchemaRegistryError",
    "SerializationError",
    "TopicCatalogError",
]


class BusError(Exception):
    """Root of every error the bus raises on purpose."""


class ConfigError(BusError):
    """A setting is missing or wrong; the message names it."""


class RetriableError(BusError):
    """Worth trying again later; ``retry_after`` says when (seconds)."""

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeliveryError(RetriableError):
    """Kafka did not acknowledge a record (broker down, timeout)."""


class SchemaRegistryError(RetriableError):
    """The schema registry could not be reached or answered an error."""


class SchemaIncompatibleError(BusError):
    """A schema change breaks the subject's compatibility rule."""


class SerializationError(BusError):
    """Bytes could not be encoded or decoded as the contract says."""


class TopicCatalogError(BusError):
    """A topic on the broker contradicts the catalog in a way we cannot fix."""


class MappingError(BusError):
    """A record cannot become a fact or a row (a connector's input, a decoded record in
    the sink); it goes to the dead-letter topic and, over HTTP, is answered 4xx.

    Args:
        message: what was wrong and where (field path), for the DLQ header and the
            HTTP 4xx answer.
        field: the offending field path, when known.

    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    @classmethod
    def unsatisfied(cls, exc: ValidationError, what: str = "fact") -> MappingError:
        """A value the contract refused where no input field is known: names the contract
        path (``field``) instead, e.g. "the snapshot does not satisfy the contract at
        lines.0.tickets: ..."."""
        first = exc.errors(include_url=False, include_input=False)[0]
        path = ".".join(str(p) for p in first["loc"]) or what
        return cls(f"the {what} does not satisfy the contract at {path}: {first['msg']}", field=path)

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
