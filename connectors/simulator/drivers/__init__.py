"""One driver per source kind, keyed by its ``kind`` (the kind names of
``connectors.simulator.model``)."""

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

__all__ = ["DRIVERS"]

DRIVERS: dict[str, type[Driver]] = {driver.kind: driver for driver in (
    DipCalendarDriver, UitdatabankDriver, SchemaOrgDriver, IcalDriver, EventixDriver,
    EventbriteDriver, StagerDriver, TicketmaticDriver, DipCumulativeDriver, BoxOfficeDriver)}
