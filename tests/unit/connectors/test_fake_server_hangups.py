"""The fake vendor APIs' server: a client hanging up mid-answer prints no traceback; a
fault of the fake itself still does."""

from __future__ import annotations

import socket
import struct
import time
from http.server import BaseHTTPRequestHandler

import pytest

from connectors.fakes.http import ServedFake


class _Slow(ServedFake):
    thread_name = "fake-slow"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path == "/bug":
                    raise ValueError("a bug in the fake")
                self.send_response(200)
                self.end_headers()
                for _ in range(200):  # long enough for the client to be gone
                    self.wfile.write(b"x" * 65536)
                    time.sleep(0.005)

            def log_message(self, *args: object) -> None:
                return None

        return Handler


def _get_and_hang_up(port: int, path: str) -> None:
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        conn.recv(1024)
        # reset, not a polite close: the server's next write fails at once
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_a_client_hanging_up_mid_answer_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with _Slow() as fake:
        assert fake._server is not None
        port = fake._server.server_address[1]
        _get_and_hang_up(port, "/big")
        time.sleep(0.5)
        assert capsys.readouterr().err == ""
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(b"GET /bug HTTP/1.1\r\nHost: x\r\n\r\n")
            conn.recv(1024)
        time.sleep(0.3)
        assert "ValueError: a bug in the fake" in capsys.readouterr().err
