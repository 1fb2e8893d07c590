"""The HTTP server under every fake vendor API: the standard library's threading server
with a listen backlog a real API would have (``http.server`` listens with 5, so under
a few dozen concurrent clients the kernel drops connections and a client waits a second
for its retransmit), and threads that do not keep a test process alive."""

from __future__ import annotations

from http.server import ThreadingHTTPServer

__all__ = ["FakeApiServer"]


class FakeApiServer(ThreadingHTTPServer):
    request_queue_size = 1024
    daemon_threads = True
