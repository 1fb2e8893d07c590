"""The source SDK: a source knows how to read its system; the SDK validates, serialises,
produces keyed facts, confirms delivery before acknowledging the source, keeps durable
positions, dead-letters bad input and counts it all.
"""

from connectors.sdk.errors import MappingError, Retry, SourceUnavailable
from connectors.sdk.metrics import ConnectorMetrics
from connectors.sdk.positions import PositionStore
from connectors.sdk.privacy import Pseudonymiser
from connectors.sdk.publisher import Publisher
from connectors.sdk.records import DeadLetter, PollResult, SourceRecord
from connectors.sdk.runner import PollingSource, SourceRunner

__all__ = ["ConnectorMetrics", "DeadLetter", "MappingError", "PollResult", "PollingSource",
           "PositionStore", "Pseudonymiser", "Publisher", "Retry", "SourceRecord",
           "SourceRunner", "SourceUnavailable"]
