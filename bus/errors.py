"""One exception root for the bus; every message says what to do."""

from __future__ import annotations

__all__ = [
    "BusError",
    "ConfigError",
    "DeliveryError",
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
