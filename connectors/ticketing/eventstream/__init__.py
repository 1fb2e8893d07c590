"""Ticketmatic eventstream poller: orders, scans and event updates from the cursor feed
``GET /{account}/eventstream?id=<cursor>``, published as ticket facts and performances.
"""

from connectors.ticketing.eventstream.client import EventstreamClient, MalformedPage, Page
from connectors.ticketing.eventstream.mapping import Mapped, MappingEnv, map_item
from connectors.ticketing.eventstream.source import EventstreamSource

__all__ = ["EventstreamClient", "EventstreamSource", "MalformedPage", "Mapped", "MappingEnv",
           "Page", "map_item"]
