"""The last-minute board in a real headless Chromium, fed by the whole pipeline.

A ticketing vendor (Eventbrite-style webhooks into our real receiver, which fetches the
changed resource from a fake of Eventbrite's API) puts a performance on tonight's
calendar and sells most of it; a real streams worker turns that into availability and a
last-minute offer; the gateway serves the board. The test then sells one more ticket
through the connector and watches the count on the page go down over SSE.

Needs Debian's ``chromium`` and ``chromium-driver`` (``/usr/bin/chromium``,
``/usr/bin/chromedriver``) and the ``selenium`` package; Selenium Manager is kept offline
(nothing is downloaded).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bus.http import HttpServer
from bus.kafka import make_admin
from bus.serde import Registry
from bus.settings import ClickHouseSettings, Settings
from bus.topics import apply_catalog
from connectors.fakes.webhooks import (
    FakeEventbriteApi,
    eventbrite_attendee,
    eventbrite_delivery,
    eventbrite_event,
    eventbrite_order,
)
from connectors.sdk.context import ConnectorContext
from connectors.ticketing.webhook import WebhookSettings, create_app
from ops.access.principals import apply_role_access
from ops.stack.pipeline import register_schemas
from ops.stack.settings import ADMIN
from schemas.models import utcnow
from sinks.gateway.server import Gateway
from tests.integration.streams.harness import Worker
from tests.support.gateway import serving_gateway
from tests.support.pseudonyms import TEST_BUYER_SECRET

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.timeout(600)]

CHROMIUM = os.environ.get("CULTUURBUS_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CULTUURBUS_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage")
WAIT_S = 120.0  # a cold worker joins its group and recovers its tables first
CAPACITY = 40
START_REMAINING = 9
SECRET = "board-e2e-secret-0123"

webdriver = pytest.importorskip("selenium.webdriver")


@pytest.fixture(scope="module")
def board_settings(stack) -> Settings:  # type: ignore[no-untyped-def]
    """Bus settings on the test stack with a prefix of this module; catalog applied."""
    settings = Settings(kafka=stack.kafka_client(ADMIN).model_copy(update={"client_id": "cultuurbus-e2e"}),
                        registry=stack.registry_client(ADMIN),
                        clickhouse=ClickHouseSettings(url=stack.clickhouse_url),
                        connector={"buyer_secret": TEST_BUYER_SECRET},
                        topic_prefix=f"e{uuid.uuid4().hex[:6]}.")
    admin = make_admin(settings.kafka)
    apply_catalog(admin, settings.topic_prefix)
    apply_role_access(admin, settings.topic_prefix, settings)  # the worker runs as its own principal
    register_schemas(Registry(settings.registry), settings.topic_prefix)
    return settings


class Vendor:
    """An Eventbrite organiser selling through our webhook receiver."""

    def __init__(self, api: FakeEventbriteApi, receiver: HttpServer) -> None:
        self.api = api
        self.http = httpx.Client(base_url=receiver.url, timeout=60)

    def _deliver(self, action: str, url: str) -> None:
        req = eventbrite_delivery("acme", SECRET, action, url)
        resp = self.http.post(req.path, content=req.body, headers=req.headers)
        assert resp.status_code == 200, f"{action}: {resp.status_code} {resp.text}"

    def put_on_tonight(self, event_id: str, title: str, capacity: int) -> None:
        event = eventbrite_event(event_id=event_id, name=title, capacity=capacity)
        start = (utcnow() + timedelta(hours=3)).replace(microsecond=0)
        for part, at in (("start", start), ("end", start + timedelta(hours=2))):
            event[part]["utc"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
            event[part]["local"] = at.strftime("%Y-%m-%dT%H:%M:%S")  # the board shows start, not local
        self._deliver("event.updated", self.api.put_event(event))

    def sell(self, event_id: str, tickets: int) -> None:
        order_id = uuid.uuid4().hex[:10]
        order = eventbrite_order(order_id=order_id, event_id=event_id, attendees=[
            eventbrite_attendee(attendee_id=f"{order_id}-{i}", event_id=event_id, order_id=order_id,
                                ticket_class_name="Regulier", price_cents=2450)
            for i in range(tickets)])
        self._deliver("order.placed", self.api.put_order(order))


@pytest.fixture(scope="module")
def vendor(board_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vendor]:
    """The receiver (in process) and a real streams worker (subprocess) on this module's topics."""
    state = tmp_path_factory.mktemp("board-pipeline")
    worker = Worker("board", board_settings, state / "streams", state / "worker.log").start()
    with FakeEventbriteApi() as api, \
            ConnectorContext(board_settings, "webhook", serve_metrics=False) as ctx:
        settings = WebhookSettings(secrets={"eventbrite/acme": SECRET},
                                   eventbrite_tokens={"acme": api.token},
                                   eventbrite_api_hosts=(api.host,))
        receiver = HttpServer(create_app(ctx, settings), "127.0.0.1", 0).start()
        try:
            yield Vendor(api, receiver)
        finally:
            receiver.stop()
            worker.stop()
            assert worker.proc is not None and worker.proc.returncode == 0, \
                f"streams worker exited {worker.proc.returncode}; see {worker.log}"


@pytest.fixture(scope="module")
def gateway(board_settings: Settings) -> Iterator[Gateway]:
    with serving_gateway(board_settings, WAIT_S) as gw:
        yield gw


@pytest.fixture(scope="module")
def performance(vendor: Vendor, gateway: Gateway) -> tuple[str, str]:
    """(event id at the vendor, canonical performance id): tonight, START_REMAINING seats left."""
    event_id = uuid.uuid4().hex[:10]
    title = f"Hamlet {event_id[:4]}"
    vendor.put_on_tonight(event_id, title, CAPACITY)
    vendor.sell(event_id, CAPACITY - START_REMAINING)
    deadline = time.monotonic() + WAIT_S
    offers: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        offers = httpx.get(f"{gateway.url}/v1/lastminute", params={"limit": 1000}).json()["items"]
        mine = [o for o in offers if o["title"] == title]
        if mine and mine[0]["remaining"] == START_REMAINING:
            return event_id, mine[0]["performance_id"]
        time.sleep(0.25)
    raise AssertionError(f"no last-minute offer for {title!r} with {START_REMAINING} seats left "
                         f"within {WAIT_S} s; the gateway lists {len(offers)} offers")
@pytest.fixture
def browser() -> Iterator[object]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(f"needs {CHROMIUM} and {CHROMEDRIVER}: apt-get install -y chromium chromium-driver")
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never download anything
    profile = tempfile.mkdtemp(prefix="cultuurbus-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={profile}")
    opts.add_argument("--window-size=390,844")  # a phone
    driver = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _remaining(driver, pid: str) -> str | None:  # type: ignore[no-untyped-def]
    return driver.execute_script(  # type: ignore[no-any-return]
        "const el = [...document.querySelectorAll('[data-performance-id]')]"
        ".find(e => e.dataset.performanceId === arguments[0]);"
        "return el ? el.dataset.remaining : null;", pid)


def _wait_remaining(driver, pid: str, want: int) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + WAIT_S
    seen = None
    while time.monotonic() < deadline:
        seen = _remaining(driver, pid)
        if seen == str(want):
            return
        time.sleep(0.1)
    raise AssertionError(f"board shows remaining={seen!r} for {pid}, expected {want} within {WAIT_S} s")


def test_a_ticket_sold_through_a_connector_changes_the_count_on_the_board(
        gateway: Gateway, browser, vendor: Vendor, performance: tuple[str, str],  # type: ignore[no-untyped-def]
        tmp_path: Path) -> None:
    event_id, pid = performance
    browser.get(f"{gateway.url}/board")
    _wait_remaining(browser, pid, START_REMAINING)
    row = browser.execute_script(
        "const el = [...document.querySelectorAll('[data-performance-id]')]"
        ".find(e => e.dataset.performanceId === arguments[0]);"
        "return {title: el.querySelector('.title').textContent, badge: el.querySelector('.badge').textContent,"
        " time: el.querySelector('time').textContent, seats: el.querySelector('.count').textContent,"
        " where: el.querySelector('.where').textContent, status: el.dataset.status};", pid)
    assert row["title"] == f"Hamlet {event_id[:4]}"
    assert row["badge"] == "LIMITED" and row["status"] == "LIMITED"
    assert row["where"] == "Koninklijke Schouwburg, Den Haag"
    assert f"of {CAPACITY}" in row["seats"]
    assert len(row["time"]) == 5 and row["time"][2] == ":"
    # The live stream is open (EventSource connected) before the change is made.
    deadline = time.monotonic() + WAIT_S
    while browser.execute_script("return document.getElementById('conn').dataset.state") != "live":
        assert time.monotonic() < deadline, "the board never connected its event stream"
        time.sleep(0.1)

    vendor.sell(event_id, 1)  # one more ticket, through the webhook receiver

    _wait_remaining(browser, pid, START_REMAINING - 1)
    # Readable at phone width: nothing wider than the screen.
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert browser.execute_script("return document.documentElement.lang") == "en"
    shot = Path(os.environ.get("BOARD_SCREENSHOT", tmp_path / "board.png"))
    shot.parent.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(shot))
    print(f"\nboard screenshot: {shot}")
