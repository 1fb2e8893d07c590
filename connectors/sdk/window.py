"""The event-time window: a fact must say it happened in a plausible time.

A vendor's clock, a typo or an attacker can date a sale in year 9999. Such a fact would
be carried by Avro but poisons every reader downstream (an availability record of year
10000 stopped the gateway once), so the edge refuses it: before
``connector.event_time_earliest`` (default 2000-01-01) or more than
``connector.event_time_max_ahead_s`` (default one day) ahead of now.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bus.settings import ConnectorSettings
from connectors.sdk.errors import MappingError
from connectors.sdk.records import SourceRecord

__all__ = ["EventTimeWindow"]


@dataclass(frozen=True)
class EventTimeWindow:
    """The window facts must fall in.

    Args:
        earliest: the first instant a fact may carry.
        max_ahead: how far past now a fact may be dated.

    """

    earliest: datetime
    max_ahead: timedelta

    @classmethod
    def from_settings(cls, settings: ConnectorSettings) -> EventTimeWindow:
        earliest = settings.event_time_earliest
        if earliest.tzinfo is None:
            earliest = earliest.replace(tzinfo=UTC)
        return cls(earliest, timedelta(seconds=settings.event_time_max_ahead_s))

    def check(self, when: datetime, field: str) -> None:
        """Refuse ``when`` outside the window.

        Raises:
            MappingError: ``when`` is outside the window; ``field`` names the input field.

        """
        if when.tzinfo is None:
            raise MappingError(f"{field}: time {when.isoformat()} has no UTC offset; send ISO 8601 "
                               "with an offset such as +01:00 or Z", field=field)
        try:
            latest = datetime.now(UTC) + self.max_ahead
            inside = self.earliest <= when <= latest
        except OverflowError:  # a local 9999-12-31 with a negative offset is past datetime.max
            inside = False
        if not inside:
            raise MappingError(
                f"{field}: time {when.isoformat()} is outside the accepted window (from "
                f"{self.earliest.isoformat()} to {self.max_ahead.total_seconds():.0f} s ahead of "
                "now); fix the source's clock or date, or widen CULTUURBUS_CONNECTOR__"
                "EVENT_TIME_EARLIEST / __EVENT_TIME_MAX_AHEAD_S", field=field)

    def check_records(self, records: Iterable[SourceRecord]) -> None:
        """Check every fact's ``event_time``.

        Raises:
            MappingError: naming ``records[i].event_time`` of the first fact outside.

        """
        for i, record in enumerate(records):
            when = getattr(record.value, "event_time", None)
            if isinstance(when, datetime):
                self.check(when, f"records[{i}].event_time")
