"""The ticketing webhook receiver: vendors POST deliveries, the receiver verifies,
maps them to contract facts and answers 2xx only after Kafka acknowledged them.

Use ``create_app(ctx, WebhookSettings(...))`` for an ASGI app, ``bus.http.HttpServer``
to serve it, or ``cultuurbus connector webhook`` from the command line.
"""

from connectors.ticketing.webhook.app import create_app
from connectors.ticketing.webhook.receiver import VENDORS, Receiver
from connectors.ticketing.webhook.settings import WebhookSettings
from connectors.ticketing.webhook.signing import SIGNATURE_HEADER, sign, verify
from connectors.ticketing.webhook.tickettypes import TicketTypeMapper

__all__ = ["SIGNATURE_HEADER", "VENDORS", "Receiver", "TicketTypeMapper", "WebhookSettings",
           "create_app", "sign", "verify"]
