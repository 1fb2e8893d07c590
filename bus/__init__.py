"""Shared kernel: settings, Kafka client factories, Avro serde and registry, the topic
catalog, metrics and logging.
"""

from bus.errors import BusError, ConfigError, RetriableError, SerializationError
from bus.settings import Settings, load_settings

__all__ = ["BusError", "ConfigError", "RetriableError", "SerializationError", "Settings",
           "load_settings"]
