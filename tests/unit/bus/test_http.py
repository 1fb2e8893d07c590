"""The one HTTP runner and ops surface of the bus: a taken port names the setting that
moves it, and every role answers /healthz and /healthz/live with the same JSON."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import time
import urllib.error
import urllib.request

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter

from bus.errors import ConfigError
from bus.http import KEEP_ALIVE_S, HttpServer
from bus.metrics import Health, MetricsServer
from bus.ops_http import ops_router


def _app(health: Health, registry: CollectorRegistry) -> FastAPI:
    app = FastAPI()
    app.include_router(ops_router(health, registry))
    return app


def test_a_taken_http_port_is_a_config_error_naming_the_setting_that_moves_it() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        server = HttpServer(_app(Health(), CollectorRegistry()), "127.0.0.1", port,
                            setting="--my-port")
        with pytest.raises(ConfigError, match=f"127.0.0.1:{port}.*move it with --my-port"):
            server.start()


def test_the_runner_serves_on_a_free_port_and_stops_when_asked() -> None:
    server = HttpServer(_app(Health(), CollectorRegistry()), "127.0.0.1", 0).start()
    try:
        assert server.port != 0
        assert httpx.get(f"{server.url}/healthz/live").json() == {"live": True}
    finally:
        server.stop(timeout=5)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/healthz/live")


def _idle_then_ask_again(server: HttpServer, idle_s: float) -> int | None:
    """Ask once, leave the connection idle ``idle_s``, ask again on it: the status, or None
    when the server had closed it."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("GET", "/healthz/live")
        assert conn.getresponse().read() == b'{"live":true}'
        time.sleep(idle_s)
        conn.request("GET", "/healthz/live")
        return conn.getresponse().status
    except (http.client.RemoteDisconnected, ConnectionError):
        return None
    finally:
        conn.close()


def test_an_idle_kept_alive_connection_outlives_an_http_clients_pool_and_is_closed_when_told() -> None:
    """httpx keeps an idle connection 5 s, uvicorn closed it after 5 s too: a request sent
    on it as the server closed it got a reset, no answer. The server keeps it longer now
    (``KEEP_ALIVE_S``), and still closes it after the time it is given."""
    assert KEEP_ALIVE_S > 60  # a load balancer's idle timeout
    server = HttpServer(_app(Health(), CollectorRegistry()), "127.0.0.1", 0).start()
    short = HttpServer(_app(Health(), CollectorRegistry()), "127.0.0.1", 0, keep_alive_s=1).start()
    try:
        assert _idle_then_ask_again(server, 5.5) == 200
        assert _idle_then_ask_again(short, 2.0) is None
    finally:
        server.stop(timeout=5)
        short.stop(timeout=5)


def _wsgi(url: str) -> tuple[int, object]:
    try:
        with urllib.request.urlopen(url) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _asgi(app: FastAPI, path: str) -> tuple[int, object]:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://role") as client:
            return await client.get(path)

    resp = asyncio.run(go())
    return resp.status_code, resp.json()


@pytest.mark.parametrize("kafka_up", [True, False])
def test_a_poller_and_a_receiver_answer_health_with_the_same_status_and_json(
        kafka_up: bool) -> None:
    registry = CollectorRegistry()
    Counter("cultuurbus_test_records", "x", registry=registry).inc(3)
    health = Health()
    health.add_check("kafka", lambda: kafka_up)
    wsgi = MetricsServer(registry, 0, health=health).start()  # pollers, the sink
    asgi = _app(health, registry)  # receivers, the gateway
    try:
        base = f"http://127.0.0.1:{wsgi.port}"
        for path in ("/healthz", "/healthz/live"):
            assert _wsgi(base + path) == _asgi(asgi, path)
        assert _asgi(asgi, "/healthz") == (200 if kafka_up else 503, {
            "live": True, "ready": kafka_up, "checks": {"kafka": kafka_up}})
        assert _asgi(asgi, "/healthz/live") == (200, {"live": True})
        with urllib.request.urlopen(base + "/metrics") as resp:
            assert "cultuurbus_test_records_total 3.0" in resp.read().decode()
    finally:
        wsgi.close()
