"""Running a connector's source through real Kafka until it has caught up, as a test puts
on the bus what a fake vendor or calendar holds: the UiTdatabank and Ticketmatic
eventstream sources the way their connectors build them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bus.settings import Settings
from connectors.calendar.uitdatabank.source import UitdatabankSource
from connectors.fakes.ticketmatic import FakeTicketmatic
from connectors.fakes.uitdatabank import FakeUitdatabank
from connectors.sdk.context import ConnectorContext
from connectors.sdk.positions import PositionStore
from connectors.sdk.runner import PollingSource, SourceRunner
from connectors.ticketing.eventstream import EventstreamClient, EventstreamSource
from connectors.ticketing.eventstream.mapping import MappingEnv
from tests.support.pseudonyms import with_test_key

__all__ = ["eventstream", "run_source", "run_uitdatabank"]


def run_source(settings: Settings, name: str, source: Callable[[ConnectorContext], PollingSource],
               positions: Callable[[PositionStore], Any] = lambda real: real,
               **runner: float) -> SourceRunner:
    """Open connector ``name``'s context (no metrics server), run ``source(context)`` with
    its publisher and ``positions(its position store)`` until it has caught up, close it.

    Args:
        settings: The bus the connector publishes to (the test pseudonym key added when
            they have none).
        name: The connector's name (its positions are kept under it).
        source: Builds the source from the opened context (its pseudonymiser, say).
        positions: Wraps the real position store (a test's lossy one); by default it is used as it is.
        **runner: ``SourceRunner`` options (``poll_interval_s``, ``backoff_max_s``).

    Returns:
        The runner, which counts what it published.

    """
    with ConnectorContext(with_test_key(settings), name, serve_metrics=False) as ctx:
        run = SourceRunner(source(ctx), ctx.publisher, positions(ctx.positions), **runner)
        run.run(until_caught_up=True)
    return run


def run_uitdatabank(settings: Settings, uit: FakeUitdatabank) -> SourceRunner:
    """What ``uit`` lists, through connector ``uit`` (client ``t``, account ``cultuurnet``,
    no settling wait)."""
    return run_source(settings, "uit", lambda _: UitdatabankSource(uit.url, client_id="t", account="cultuurnet",
                                                                   settle_s=0), poll_interval_s=0.1)


def eventstream(fake: FakeTicketmatic, account: str, **env: Any) -> Callable[[ConnectorContext], EventstreamSource]:
    """The eventstream source of Ticketmatic ``account`` at ``fake``, mapping with the
    context's pseudonymiser and ``env`` (``MappingEnv`` options such as ``id_fields``)."""
    return lambda ctx: EventstreamSource(EventstreamClient(fake.base_url, account),
                                         MappingEnv(account, ctx.pseudonymiser, **env))
