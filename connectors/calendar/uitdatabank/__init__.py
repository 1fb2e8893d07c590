"""UiTdatabank (publiq, Flanders): performances from the Search API v3."""

from connectors.calendar.uitdatabank.mapping import Mapped, map_event
from connectors.calendar.uitdatabank.source import DEFAULT_FILTERS, UitdatabankSource

__all__ = ["DEFAULT_FILTERS", "Mapped", "UitdatabankSource", "map_event"]
