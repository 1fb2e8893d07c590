"""``cultuurbus gateway``: the availability gateway (HTTP JSON, SSE, last-minute board)."""

from __future__ import annotations

import click

__all__ = ["gateway"]


@click.command("gateway")
@click.option("--host", default=None, help="Bind address (default: gateway.host, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: gateway.port, 8088; 0: any free).")
@click.option("--client-queue", type=click.IntRange(min=16), default=1024, show_default=True,
              help="Changes one SSE client may have pending; a slower client is disconnected.")
@click.option("--cors-origin", "cors_origins", multiple=True, metavar="ORIGIN",
              help="Let web pages from ORIGIN (e.g. https://agenda.example) call the API; "
                   "repeat for more, '*' for any. Default: same origin only.")
@click.pass_context
def gateway(ctx: click.Context, host: str | None, port: int | None, client_queue: int,
            cors_origins: tuple[str, ...]) -> None:
    """Serve live availability and last-minute offers to apps that do not speak Kafka.

    Reads participation.availability and participation.lastminute from the beginning
    into memory (ready on /healthz once caught up), then serves /v1/... JSON,
    /v1/stream (SSE), /board (web page), /metrics and /docs (OpenAPI).
    """
    from sinks.gateway.server import Gateway

    Gateway(ctx.find_root().obj, host=host, port=port, client_queue=client_queue,
            cors_origins=cors_origins).serve()
