"""The gateway's errors; all are ``BusError``s."""

from __future__ import annotations

from bus.errors import BusError

__all__ = ["BadParameterError", "GatewayError"]


class GatewayError(BusError):
    """Root of the gateway's own errors."""


class BadParameterError(GatewayError):
    """A request parameter is malformed; ``parameter`` names it (the API answers 400).

    Args:
        parameter: the query, path or header parameter at fault.
        message: what is wrong and what to send instead.

    """

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message
