"""What the ``cultuurbus connector <kind>`` commands share: the settings the root command
built, the ``--name`` option, and ``KEY=TYPE`` ticket-type maps."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click

from bus.settings import Settings, load_settings
from schemas.models import TicketType

__all__ = ["TICKET_TYPES", "name_option", "settings_of", "ticket_type_map"]

F = TypeVar("F", bound=Callable[..., Any])

#: The contract's ticket types, as options accept them.
TICKET_TYPES = [t.value for t in TicketType]


def settings_of(ctx: click.Context) -> Settings:
    """The settings the root command built, or fresh ones when run standalone."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Settings) else load_settings()


def name_option(default: str) -> Callable[[F], F]:
    """``--name``: the connector's name (metrics label, position key), ``default`` unless given."""
    return click.option("--name", default=default, show_default=True,
                        help="Connector name (metrics label, position key).")


def ticket_type_map(values: Iterable[str], option: str, key: str, *,
                    split: Callable[[str, str], tuple[str, str, str]] = str.partition,
                    normal: Callable[[str], str] = str.strip) -> dict[str, TicketType]:
    """``KEY=TYPE`` values of the repeatable ``option`` -> ``{normal(KEY): TicketType}``.

    ``split`` cuts a value at its first ``=`` (``str.partition``) or its last
    (``str.rpartition``, for keys that may hold one).

    Raises:
        click.BadParameter: a value without a key, or a type that is not the contract's.

    """
    out = {}
    for value in values:
        name, sep, kind = split(value, "=")
        if not sep or not name.strip():
            raise click.BadParameter(f"expected {key}=TYPE, got {value!r}", param_hint=option)
        try:
            out[normal(name)] = TicketType(kind.strip().upper())
        except ValueError:
            raise click.BadParameter(f"{kind!r} is not one of {', '.join(TICKET_TYPES)}",
                                     param_hint=option) from None
    return out
