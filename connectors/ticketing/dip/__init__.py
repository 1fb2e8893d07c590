"""DIP connectors: a DIP-compatible receiver of cumulative sales calls (``SalesSnapshot``
facts), a poller of the same numbers over GET, and a poller of DIP's calendar
(``Performance`` facts).
"""

from connectors.ticketing.dip.app import create_app
from connectors.ticketing.dip.book import Parts, SnapshotBook, build_snapshot
from connectors.ticketing.dip.calendar import DipCalendarSource
from connectors.ticketing.dip.calendar_mapping import map_performance
from connectors.ticketing.dip.poller import DipCumulativeSource, map_entry
from connectors.ticketing.dip.receiver import Answer, DipReceiver

__all__ = ["Answer", "DipCalendarSource", "DipCumulativeSource", "DipReceiver", "Parts",
           "SnapshotBook", "build_snapshot", "create_app", "map_entry", "map_performance"]
