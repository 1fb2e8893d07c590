"""The HTTP server under every fake vendor API: the standard library's threading server
with a listen backlog a real API would have (``http.server`` listens with 5, so under
a few dozen concurrent clients the kernel drops connections and a client waits a second
for its retransmit), and threads that do not keep a test process alive."""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

__all__ = ["FakeApiServer", "ServedFake"]


class FakeApiServer(ThreadingHTTPServer):
    request_queue_size = 1024
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up before the answer was written (a test's client timing
        out) is not the fake's error: no traceback for it. Anything else is printed as the
        standard library's server prints it."""
        if isinstance(sys.exc_info()[1], BrokenPipeError | ConnectionResetError):
            return
        super().handle_error(request, client_address)


class ServedFake:
    """A fake vendor API served on a free loopback port in a daemon thread.

    Lifecycle: ``start()`` binds and serves; ``stop()`` shuts down and joins; also a
    context manager. Subclasses give ``_handler()`` (the request handler class) and
    ``thread_name``.
    """

    thread_name = "fake-api"
    _server: FakeApiServer | None = None
    _thread: threading.Thread | None = None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def start(self) -> Self:
        self._server = FakeApiServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
