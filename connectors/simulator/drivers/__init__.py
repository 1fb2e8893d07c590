"""One driver per source kind, keyed by the kind names of ``connectors.simulator.model``."""

from __future__ import annotations

from connectors.simulator.drivers.base import Driver
from connectors.simulator.drivers.boxoffice import BoxOfficeDriver
from connectors.simulator.drivers.dipcalendar import DipCalendarDriver
from connectors.simulator.drivers.dipcumulative import DipCumulativeDriver
from connectors.simulator.drivers.eventbrite import EventbriteDriver
from connectors.simulator.drivers.eventix import EventixDriver
from connectors.simulator.drivers.stager import StagerDriver
from connectors.simulator.drivers.ticketmatic import TicketmaticDriver
from connectors.simulator.drivers.uitdatabank import UitdatabankDriver
from connectors.simulator.drivers.venuepages import IcalDriver, SchemaOrgDriver
from connectors.simulator.model import (
    BOXOFFICE_CSV,
    DIP_CALENDAR,
    DIP_CUMULATIVE,
    EVENTBRITE,
    EVENTIX,
    ICAL,
    SCHEMAORG,
    STAGER,
    TICKETMATIC,
    UITDATABANK,
)

__all__ = ["DRIVERS"]

DRIVERS: dict[str, type[Driver]] = {
    DIP_CALENDAR: DipCalendarDriver,
    UITDATABANK: UitdatabankDriver,
    SCHEMAORG: SchemaOrgDriver,
    ICAL: IcalDriver,
    EVENTIX: EventixDriver,
    EVENTBRITE: EventbriteDriver,
    STAGER: StagerDriver,
    TICKETMATIC: TicketmaticDriver,
    DIP_CUMULATIVE: DipCumulativeDriver,
    BOXOFFICE_CSV: BoxOfficeDriver,
}
