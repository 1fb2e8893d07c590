"""The DIP receiver over a real loopback socket: a call is judged on its headers before
its body is read, and a body is read only up to the limit and for a bounded time."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from bus.http import HttpServer
from connectors.ticketing.dip import DipReceiver, SnapshotBook, create_app
from tests.support.recording import RecordingPublisher, dip_context

PATH = "/productions/NL-23-1234-5/performances/3/capacity"
LIMIT = 1_048_576  # connector.max_body_bytes, default


@pytest.fixture
def server() -> Iterator[HttpServer]:
    receiver = DipReceiver(dip_context(RecordingPublisher()), "t", SnapshotBook(None),
                           token=SecretStr("s3cret"), body_timeout_s=0.5)
    srv = HttpServer(create_app(receiver), "127.0.0.1", 0).start()
    yield srv
    srv.stop(timeout=5)


def _connect(srv: HttpServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", srv.port), timeout=5)


def _status(sock: socket.socket, within: float) -> int:
    """The status of the answer, which must arrive within ``within`` seconds."""
    sock.settimeout(within)
    head = sock.recv(65536)
    assert head.startswith(b"HTTP/1.1 "), head[:100]
    return int(head.split(b" ", 2)[1])


def _head(extra: str) -> bytes:
    return (f"PUT {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"{extra}\r\n").encode()


def test_a_call_without_token_declaring_50_mb_is_refused_before_a_byte_of_body_is_sent(
        server: HttpServer) -> None:
    with _connect(server) as sock:
        sock.sendall(_head("Content-Length: 50000000\r\n"))  # headers only, no body
        assert _status(sock, within=3) == 401


def test_a_call_with_token_declaring_over_the_limit_is_413_before_the_body_is_sent(
        server: HttpServer) -> None:
    with _connect(server) as sock:
        sock.sendall(_head(f"Authorization: Bearer s3cret\r\nContent-Length: {LIMIT + 1}\r\n"))
        assert _status(sock, within=3) == 413


def test_a_chunked_body_is_read_no_further_than_the_limit(server: HttpServer) -> None:
    chunk = b"x" * 65536
    sent = 0
    with _connect(server) as sock:
        sock.sendall(_head("Authorization: Bearer s3cret\r\nTransfer-Encoding: chunked\r\n"))
        answered = False
        while sent < 32 * LIMIT and not answered:
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:  # the server closed after answering
                break
            sent += len(chunk)
            answered = bool(select.select([sock], [], [], 0)[0])
        assert _status(sock, within=3) == 413
    # answered while the stream went on (loopback socket buffers hold a few MB of it)
    assert sent < 32 * LIMIT


def test_a_body_that_drips_is_408_after_the_body_timeout_but_one_in_pieces_is_read(
        server: HttpServer) -> None:
    body = b'{"capacity": 850}'
    with _connect(server) as sock:  # whole within the timeout: accepted
        sock.sendall(_head(f"Authorization: Bearer s3cret\r\nContent-Length: {len(body)}\r\n"))
        for i in range(0, len(body), 6):
            sock.sendall(body[i:i + 6])
            time.sleep(0.05)
        assert _status(sock, within=5) == 200
    with _connect(server) as sock:  # 7 of 100 bytes, then nothing
        sock.sendall(_head("Authorization: Bearer s3cret\r\nContent-Length: 100\r\n") + b'{"capa')
        t0 = time.monotonic()
        assert _status(sock, within=5) == 408
        assert time.monotonic() - t0 < 3
