"""``cultuurbus connector webhook``: run the ticketing webhook receiver."""

from __future__ import annotations

import click

from bus.errors import ConfigError
from bus.http import HttpServer
from bus.log import configure_logging, get_logger
from bus.settings import Settings, load_settings
from connectors.sdk.context import ConnectorContext
from connectors.ticketing.webhook.app import create_app
from connectors.ticketing.webhook.auth import check_settings, modes
from connectors.ticketing.webhook.receiver import VENDORS
from connectors.ticketing.webhook.settings import WebhookSettings
from schemas.models import TicketType

__all__ = ["PORT_SETTING", "command"]

log = get_logger(__name__)
#: How a user moves the receiver's port (named when it is taken).
PORT_SETTING = "`cultuurbus connector webhook --port N` or CULTUURBUS_CONNECTOR__HTTP_PORT"


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, secret = value.partition("=")
        if not sep or not key or not secret:
            raise click.BadParameter(f"expected KEY=VALUE, got {value.split('=')[0]!r}...",
                                     param_hint=option)
        out[key.strip()] = secret
    return out


def _credentials(values: tuple[str, ...], option: str) -> dict[str, str]:
    out = _pairs(values, option)
    for key in out:
        if key.split("/")[0] not in VENDORS:
            raise click.BadParameter(f"unknown vendor in {key!r}; known: {', '.join(VENDORS)}",
                                     param_hint=option)
    return out


def build_settings(secrets: tuple[str, ...] = (), tokens: tuple[str, ...] = (),
                   ticket_types: tuple[str, ...] = (), strict: bool | None = None,
                   base: WebhookSettings | None = None, url_tokens: tuple[str, ...] = (),
                   nonces: tuple[str, ...] = ()) -> WebhookSettings:
    """The ``webhook`` section of the settings (file and ``CULTUURBUS_WEBHOOK__*``) merged
    with command-line values (which win)."""
    base = base if base is not None else load_settings().webhook
    cli_secrets = _credentials(secrets, "--secret")
    cli_url_tokens = _credentials(url_tokens, "--url-token")
    cli_nonces = _credentials(nonces, "--openticket-nonce")
    types = {}
    for name, kind in _pairs(ticket_types, "--ticket-type").items():
        try:
            types[name] = TicketType(kind.upper())
        except ValueError:
            raise click.BadParameter(f"{kind!r} is not one of NORMAL, DISCOUNT, FREE, OTHER",
                                     param_hint="--ticket-type") from None
    merged = base.model_dump()
    merged["secrets"] = {**base.secrets, **cli_secrets}
    merged["url_tokens"] = {**base.url_tokens, **cli_url_tokens}
    merged["openticket_nonces"] = {**base.openticket_nonces, **cli_nonces}
    merged["eventbrite_tokens"] = {**base.eventbrite_tokens, **_pairs(tokens, "--eventbrite-token")}
    merged["ticket_types"] = {**base.ticket_types, **types}
    if strict is not None:
        merged["strict_ticket_types"] = strict
    settings = WebhookSettings(**merged)
    if not (settings.secrets or settings.url_tokens or settings.openticket_nonces
            or set(settings.eventbrite_tokens) - {"*"}):
        raise ConfigError("no webhook secrets configured (no URL token, OpenTicket nonce, HMAC "
                          "secret or Eventbrite account token), so every delivery would be "
                          "refused: pass --url-token VENDOR/ACCOUNT=TOKEN or set "
                          "CULTUURBUS_WEBHOOK__URL_TOKENS='{\"stager/acme\": \"...\"}' (see "
                          "--help for the other modes)")
    check_settings(settings, VENDORS)
    return settings


_HELP = """Receive ticketing webhooks (Eventix/OpenTicket, Eventbrite, Stager) and publish them.

Vendors POST to /webhooks/<vendor>/<account>[/<token>]. Each account is authenticated by
what its vendor offers (one mode per account, the setting that holds its credential):
url-token (--url-token, the URL's last segment; Stager, Eventbrite, Eventix),
openticket-nonce (--openticket-nonce, header OpenTicket-Identifier; Eventix), hmac
(--secret, X-Signature; signing relays), eventbrite-fetch (an account's own
--eventbrite-token and nothing else). Eventbrite bodies are only pointers: only what
the receiver fetches with the account's token is published. A delivery is answered 200 only after
Kafka acknowledged its facts; 4xx names the problem and field (bad input is also
dead-lettered); 503 with Retry-After when Kafka is down. OpenAPI docs at /docs;
/healthz, /healthz/live and /metrics on the same port.

\b
Example:
  CULTUURBUS_WEBHOOK__URL_TOKENS='{"stager/acme": "..."}' \\
  CULTUURBUS_WEBHOOK__OPENTICKET_NONCES='{"eventix/acme": "..."}' \\
  CULTUURBUS_WEBHOOK__SECRETS='{"eventix/relayed": "..."}' \\
    cultuurbus connector webhook --port 8090
"""


@click.command("webhook", help=_HELP)
@click.option("--host", default=None,
              help="Interface to bind. [default: connector.http_host, 127.0.0.1]")
@click.option("--port", type=int, default=None,
              help="Port for webhooks, /healthz, /metrics and /docs. [default: connector.http_port, 8090]")
@click.option("--secret", "secrets", multiple=True, metavar="VENDOR[/ACCOUNT]=SECRET",
              help="Mode hmac: HMAC-SHA256 key that signs deliveries (X-Signature: sha256=<hex>) of one "
                   "account, or of every account of a vendor. Repeatable. Prefer "
                   "CULTUURBUS_WEBHOOK__SECRETS (JSON) so keys stay out of the process list.")
@click.option("--url-token", "url_tokens", multiple=True, metavar="VENDOR[/ACCOUNT]=TOKEN",
              help="Mode url-token: the secret last segment of the account's delivery URL "
                   "(/webhooks/VENDOR/ACCOUNT/TOKEN), 16+ URL-safe characters. Repeatable. "
                   "Prefer CULTUURBUS_WEBHOOK__URL_TOKENS (JSON).")
@click.option("--openticket-nonce", "nonces", multiple=True, metavar="eventix/ACCOUNT=NONCE",
              help="Mode openticket-nonce: the nonce of the Eventix/OpenTicket webhook, which "
                   "it sends as OpenTicket-Identifier. Repeatable. Or "
                   "CULTUURBUS_WEBHOOK__OPENTICKET_NONCES (JSON).")
@click.option("--eventbrite-token", "tokens", multiple=True, metavar="ACCOUNT=TOKEN",
              help="Eventbrite private token used to fetch each delivery's api_url "
                   "(or CULTUURBUS_WEBHOOK__EVENTBRITE_TOKENS). Repeatable.")
@click.option("--ticket-type", "ticket_types", multiple=True, metavar="NAME=TYPE",
              help="Map a vendor ticket type name to NORMAL, DISCOUNT, FREE or OTHER, before the "
                   "built-in keyword rules. Repeatable.")
@click.option("--strict-ticket-types/--lenient-ticket-types", "strict", default=None,
              help="Strict: refuse (422 + dead letter) ticket types no mapping knows. "
                   "Lenient (default): count them as OTHER.")
@click.option("--graceful-timeout", type=float, default=10.0, show_default=True,
              help="Seconds requests in flight may take after SIGTERM.")
def command(host: str | None, port: int | None, secrets: tuple[str, ...],
            url_tokens: tuple[str, ...], nonces: tuple[str, ...], tokens: tuple[str, ...],
            ticket_types: tuple[str, ...], strict: bool | None, graceful_timeout: float) -> None:
    """Run the webhook receiver (help text: ``_HELP``)."""
    root = click.get_current_context().find_root().obj
    if isinstance(root, Settings):
        settings = root
    else:  # run on its own (python -m ...): build settings and logging here
        settings = load_settings()
        configure_logging(settings.log_level, settings.log_format)
    webhook = build_settings(secrets, tokens, ticket_types, strict, base=settings.webhook,
                             url_tokens=url_tokens, nonces=nonces)
    host = host or settings.connector.http_host
    port = settings.connector.http_port if port is None else port
    ctx = ConnectorContext(settings, "webhook", serve_metrics=False).open()
    try:
        server = HttpServer(create_app(ctx, webhook), host, port, graceful_s=graceful_timeout,
                            name="webhook", setting=PORT_SETTING)
        log.info("webhook receiver starting", extra={"host": host, "port": port,
                                                     "modes": modes(webhook)})
        server.run()
    finally:
        ctx.close()
        log.info("webhook receiver stopped", extra={"host": host, "port": port})


if __name__ == "__main__":  # pragma: no cover - `python -m connectors.ticketing.webhook.cli`
    command()
