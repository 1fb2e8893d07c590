"""The webhook receiver over a real loopback socket: a body is read for a bounded time
(connector.body_timeout_s), as the DIP receiver's are, so a client that drips its body
cannot hold a connection."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from bus.http import HttpServer
from bus.settings import Settings
from connectors.fakes.webhooks import eventix_delivery, eventix_order
from connectors.ticketing.webhook import WebhookSettings, create_app
from tests.support.recording import RecordingPublisher, recording_context

SECRET = "acme-secret-0123456789"


@pytest.fixture
def receiver() -> Iterator[tuple[HttpServer, RecordingPublisher]]:
    ctx, publisher = recording_context(Settings(connector={"body_timeout_s": 0.5}))
    srv = HttpServer(create_app(ctx, WebhookSettings(secrets={"eventix/acme": SECRET})),
                     "127.0.0.1", 0).start()
    yield srv, publisher
    srv.stop(timeout=5)


def _status(sock: socket.socket, within: float) -> int:
    sock.settimeout(within)
    head = sock.recv(65536)
    assert head.startswith(b"HTTP/1.1 "), head[:100]
    return int(head.split(b" ", 2)[1])


def test_a_delivery_that_drips_is_408_after_the_body_timeout_but_one_in_pieces_is_read(
        receiver: tuple[HttpServer, RecordingPublisher]) -> None:
    server, publisher = receiver
    req = eventix_delivery("acme", SECRET, "order.paid", eventix_order())
    head = "".join(f"{k}: {v}\r\n" for k, v in req.headers.items())
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:  # in time
        sock.sendall(f"POST {req.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}"
                     f"Content-Length: {len(req.body)}\r\n\r\n".encode())
        for i in range(0, len(req.body), len(req.body) // 4 + 1):
            sock.sendall(req.body[i:i + len(req.body) // 4 + 1])
            time.sleep(0.05)
        assert _status(sock, within=5) == 200
    assert len(publisher.records) == 2
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:  # drips
        sock.sendall(f"POST {req.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}"
                     f"Content-Length: {len(req.body)}\r\n\r\n".encode() + req.body[:7])
        t0 = time.monotonic()
        assert _status(sock, within=5) == 408
        assert time.monotonic() - t0 < 3
    assert len(publisher.records) == 2 and publisher.dead_letters == []
