"""Ticket prices as whole cents, whatever shape the vendor wrote them in."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from connectors.sdk.errors import MappingError

__all__ = ["cents"]


def cents(amount: Decimal, path: str, shown: str, refund_hint: str) -> int:
    """Whole cents of a parsed euro amount.

    Args:
        amount: the amount in euros.
        path: the input field, named in errors.
        shown: the amount as the vendor wrote it, for the message.
        refund_hint: how this vendor reports a refund instead of a negative price.

    Raises:
        MappingError: not finite (NaN, infinity), negative, or more than a quadrillion.

    """
    if not amount.is_finite():  # checked first: comparing a signalling NaN raises
        raise MappingError(f"{path} is not a finite amount", field=path)
    if amount < 0:
        raise MappingError(f"{path} is negative ({shown[:20]}); {refund_hint}", field=path)
    if amount.adjusted() > 15:  # more than a quadrillion: no ticket costs that
        raise MappingError(f"{path} {shown[:20]!r} is too large for a ticket price", field=path)
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
